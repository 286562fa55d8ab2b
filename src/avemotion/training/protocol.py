"""The protocol (SPEC 3 and 5): a run's folds, its stages and their settings hashes, which clips a
stage trains and selects on, refits, and what the run folder records (run.json, fold manifests).

The protocol plans; it does not train. `plan` yields each stage of a model on a fold as a frozen
`Stage` (its clips, actors, settings, hash, selection rule, where its weights start from), and
training.run executes it with the engine (training.engine). Where files live and what they hold
is avemotion.run_layout's.

A stage is done when its results hold the expected settings hash; a stage with a last.ckpt
resumes from it. With `refit`, every stage X is followed by "X-refit": trained on all training
actors (train + val) for the epoch count X selected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from avemotion.config import PreprocessConfig
from avemotion.data.cache import cache_identity
from avemotion.data.datasets import Extent
from avemotion.data.folds import Fold, check_folds, make_folds
from avemotion.errors import ConfigError
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import REFIT, UNIMODAL, RunLayout, RunRecord, StageStart, base_stage, is_refit
from avemotion.training.engine import launch_settings
from avemotion.training.presets import (
    SCOPES,
    TrainConfig,
    learning_settings,
    run_label,
    scope_names,
    settings_hash,
    stage_values,
)
from avemotion.utils.logs import is_global_zero


@dataclass
class RunContext:
    layout: RunLayout
    cfg: TrainConfig
    cache: object
    cache_path: Path
    preprocess: PreprocessConfig
    folds: list[Fold]  # with their clip ids (Fold.with_clips)
    progress: bool = False
    extra_callbacks: list = field(default_factory=list)  # tests inject interruptions here
    partial: dict | None = None  # what the cache lacks of the complete corpus (--allow-partial)
    face_sources: dict | None = None  # clips per face source of the cache: predict's crop rule follows it
    dataset: str | None = None  # the dataset adapter(s) of the cache's clips, e.g. "ravdess", "iemocap"
    speakers: dict = field(default_factory=dict)  # actor id -> the corpus's speaker name (manifest, IEMOCAP)
    clips: dict = field(default_factory=dict)  # clip id -> digest of its content (clip_digests)
    content_keys: frozenset = frozenset()  # data.cache.content_key of every clip
    _speaker_norm: dict | None = None

    @property
    def run_dir(self) -> Path:
        return self.layout.root

    @property
    def preprocess_hash(self) -> str:
        return self.preprocess.hash()

    @property
    def speaker_norm(self) -> dict | None:
        """Per-speaker MFCC statistics when the recipe asks for them (computed once per run)."""
        if self.cfg.mfcc_norm != "speaker":
            return None
        if self._speaker_norm is None:
            from avemotion.data.dataset import speaker_mfcc_stats

            self._speaker_norm = speaker_mfcc_stats(self.cache)
        return self._speaker_norm


# ------------------------------------------------------------------------------------------ folds


def check_complete(cache, declared: dict | None, records: list[dict], allow_partial: bool) -> dict | None:
    """None when the cache holds the complete corpus (or nobody declared what that is); else what
    it lacks, refused in one line unless `allow_partial`: an interrupted or partly failed prepare
    would otherwise give folds and scores that compare with no other run."""
    if declared is None:  # cache.extent(): nobody declared what the complete corpus holds
        return None
    extent = Extent.from_dict(declared)
    present = {int(r["actor"]) for r in records}
    if present - set(extent.actors):
        raise ConfigError(f"{cache.path}: actors {sorted(present - set(extent.actors))} are not in the corpus ({extent.source})")
    missing = sorted(set(extent.actors) - present)
    if not missing and len(records) >= extent.clips:
        return None
    lacks = f"{cache.path} holds {len(records)} of the {extent.clips} clips of the complete corpus ({extent.source})"
    lacks += f", no clip of actors {missing}" if missing else ""
    if not allow_partial:
        raise ConfigError(f"{lacks}: finish `avemotion prepare` (it resumes and lists what failed) or pass --allow-partial")
    return {"clips": len(records), "expected_clips": extent.clips, "missing_actors": missing, "source": extent.source}


def build_folds(records: list[dict], cfg: TrainConfig, extent: dict | None = None,
                wanted: str | list[int] = "all") -> list[Fold]:
    """The run's folds, over the actors of the complete corpus when its extent is known (so they
    are fixed by actor id, whatever actors a partial cache lacks), else over the actors present."""
    present = sorted({int(r["actor"]) for r in records})
    genders = {int(r["actor"]): r["gender"] for r in records if r.get("gender") and r["gender"] != "unknown"}
    actors = present
    if extent is not None:
        declared = Extent.from_dict(extent)
        actors, genders = sorted(declared.actors), {**declared.actors, **genders}
    # Selection on the test fold or on the last epoch uses no validation actors: they train, as in
    # the published code (20 training actors per RAVDESS fold, not 16).
    n_val = cfg.n_val if cfg.uses_validation else 0
    # make_folds checks them (test groups partition the actors, no leak) before returning
    folds = make_folds(actors, genders=genders, n_folds=cfg.n_folds, n_val=n_val, seed=cfg.fold_seed)
    if actors != present:
        # only the folds asked for must keep a test actor (--allow-partial --folds 0,1)
        asked = None if wanted == "all" else set(_fold_numbers(wanted))
        folds = [_present_only(f, set(present), required=asked is None or f.index in asked) for f in folds]
        check_folds(folds, present)
    return [f.with_clips(records) for f in folds]


def _present_only(fold: Fold, present: set[int], required: bool = True) -> Fold:
    """A fold of the complete corpus, restricted to the actors a partial cache holds; one left
    with no test actor is refused when `required` (asked for), else kept empty (never trained)."""
    def keep(actors):
        return tuple(a for a in actors if a in present)

    out = Fold(fold.index, keep(fold.test_actors), keep(fold.val_actors), keep(fold.train_actors))
    if not out.test_actors and required:
        raise ConfigError(f"fold {fold.index}: the cache holds none of its test actors {list(fold.test_actors)}")
    return out


def select_folds(ctx: RunContext, which: str | list[int]) -> list[Fold]:
    if which == "all":
        return ctx.folds
    wanted = _fold_numbers(which)
    known = {f.index: f for f in ctx.folds}
    bad = [k for k in wanted if k not in known]
    if bad:
        raise ConfigError(f"no fold {bad[0]}: this run has folds {', '.join(map(str, known))}")
    for k in wanted:  # a partial cache may leave a fold without test, training or validation actors
        fold = known[k]
        if not fold.test_actors:
            raise ConfigError(f"fold {k}: the cache holds none of its test actors")
        if not fold.train_actors or (ctx.cfg.uses_validation and not fold.val_actors):
            raise ConfigError(f"fold {k}: the cache holds no {'training' if not fold.train_actors else 'validation'} actor of it")
    return [known[k] for k in wanted]


def _fold_numbers(which: str | list[int]) -> list[int]:
    items = which.split(",") if isinstance(which, str) else which
    try:
        return [int(x) for x in items]
    except (TypeError, ValueError):
        raise ConfigError(f"--folds must be 'all' or fold numbers such as 0,1, got {which!r}") from None


# ---------------------------------------------------------------------------------- cache identity


def run_cache_identity(ctx: RunContext) -> str:
    """The cache a run is bound to: a digest of every clip's id and content."""
    return cache_identity(ctx.clips)


# ----------------------------------------------------------------------------------------- run.json


def run_settings(ctx: RunContext) -> dict:
    """What must be identical for two commands to share a run folder."""
    return {
        "training": learning_settings(ctx.cfg),
        "preprocess_hash": ctx.preprocess_hash,
        "folds": [f.actors_dict() for f in ctx.folds],
    }


def write_run_json(ctx: RunContext, models: list[str]) -> None:
    """run.json: a new run's record, or an existing run's checked (same settings, same cache) and
    its models extended."""
    settings = run_settings(ctx)
    previous_models: tuple[str, ...] = ()
    if ctx.layout.has_run():
        old = ctx.layout.read_run()
        old_settings = old.settings()
        if old_settings != settings:
            raise ConfigError(
                f"{ctx.run_dir} holds a run with other settings ({', '.join(_diff_keys(old_settings, settings))}); "
                f"use a new --out folder (or the same settings to resume)"
            )
        previous_models = old.models
        check_same_cache(ctx, old)
    record = RunRecord(
        training=settings["training"],
        preprocess_hash=settings["preprocess_hash"],
        folds=tuple(settings["folds"]),
        settings_hash=settings_hash(settings),
        models=previous_models + tuple(m for m in models if m not in previous_models),
        preset=ctx.cfg.preset,
        selection=ctx.cfg.selection,
        optimistic=ctx.cfg.optimistic,
        legacy=ctx.cfg.legacy,
        refit=ctx.cfg.refit,
        label=run_label(ctx.cfg),
        seed=ctx.cfg.seed,
        launch=launch_settings(ctx.cfg),
        # which settings decide what (presets.SCOPES): readers such as evaluation.seeds compare
        # runs by it without importing training
        scopes={scope: list(scope_names(scope)) for scope in SCOPES},
        preprocess=ctx.preprocess.to_dict(),
        # where the data came from (read only by `evaluate` without --data), and the unimodal
        # folder relative to the run, so that a copied run stays whole (run_layout)
        cache=str(ctx.cache_path.resolve()),
        cache_identity=run_cache_identity(ctx),  # its clips' ids and content (a run is bound to it)
        # what each clip of the cache holds, whatever it is called: `evaluate --corpus` leaves out
        # clips of another corpus that are these (data.cache.content_key)
        content_keys=tuple(sorted(ctx.content_keys)),
        unimodal_dir=ctx.layout.recorded_unimodal_dir(),
        partial=ctx.partial,
        labels=tuple(ctx.cache.labels),
        speakers={str(a): n for a, n in sorted(ctx.speakers.items())},
        dataset=ctx.dataset,  # the adapter that read the corpus: the paper's figures are RAVDESS's
        face_sources=ctx.face_sources,
    )
    if is_global_zero():
        ctx.layout.write_run(record)


def check_same_cache(ctx: RunContext, old: RunRecord) -> None:
    """A run folder is bound to the cache it was trained on: another corpus with the same settings
    (even the same clip names) would otherwise reuse every finished stage. Runs from before the
    binding was recorded are bound now."""
    found = old.cache_identity
    if found is not None and found != run_cache_identity(ctx):
        raise ConfigError(f"{ctx.run_dir} was trained on another cache ({old.cache}); this cache holds "
                          f"other clips or other content: use a new --out folder")


def _diff_keys(old: dict, new: dict) -> list[str]:
    diff = []
    for key in new:
        if isinstance(new[key], dict) and isinstance(old.get(key), dict):
            diff += [f"{key}.{k}" for k in new[key] if old[key].get(k) != new[key][k]]
        elif old.get(key) != new[key]:
            diff.append(key)
    return diff or ["settings"]


def write_manifests(ctx: RunContext, records: list[dict]) -> None:
    """RUN/folds/fold_K.json through the data layer's writer (actors and clip ids per split)."""
    if is_global_zero():
        ctx.layout.write_manifests(ctx.folds, records)


# ----------------------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class Stage:
    """One training stage, planned in full before it runs (`plan_stage`); training.run executes it.
    Everything a stage trains on, selects on, is scored on and is identified by is here, once."""

    fold: int
    name: str  # its folder: a model ("video", "audio" or a fusion model), or "<that>-refit"
    model: str  # the model of the run this stage serves (a unimodal stage is shared by all)
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]  # () for a refit or a rule that uses no validation actors
    test_ids: tuple[str, ...]
    train_actors: tuple[int, ...]
    test_actors: tuple[int, ...]
    settings: Mapping  # what its hash covers (read-only)
    hash: str  # settings_hash(settings): a finished stage is reused only with the same
    clips: str  # a digest of its clips' ids and content, per split
    rule: str  # the selection rule that chooses its checkpoint (a refit keeps its last epoch)
    init: str  # "unimodal": the fold's unimodal stages; "own": built here (random, or Kinetics)

    @property
    def base(self) -> str:
        return base_stage(self.name)

    @property
    def is_refit(self) -> bool:
        return is_refit(self.name)

    @property
    def epochs(self) -> int:
        return int(self.settings["epochs"])

    @property
    def batch_size(self) -> int:
        return int(self.settings["batch_size"])


def stages_for(model_name: str, cfg: TrainConfig) -> list[str]:
    """Stages a model needs on one fold, in order (refits after every selection stage)."""
    if model_name in UNIMODAL or cfg.recipe == "end-to-end":
        stages = [model_name]
    else:
        stages = ["video", "audio", model_name]
    return stages + [s + REFIT for s in stages] if cfg.refit else stages


def plan(ctx: RunContext, fold: Fold, model_name: str) -> Iterator[Stage]:
    """The stages of `model_name` on `fold`, in order. A generator: a refit is planned once its
    selection stage has run, since the epoch count that stage selected is part of the refit."""
    for name in stages_for(model_name, ctx.cfg):
        yield plan_stage(ctx, fold, name, model_name)


def plan_stage(ctx: RunContext, fold: Fold, name: str, model_name: str) -> Stage:
    train, val = _split_ids(ctx, fold, name)
    settings = stage_settings(ctx, fold, name, model_name)
    clips = settings_hash({split: [[c, ctx.clips.get(c)] for c in sorted(ids)]
                           for split, ids in (("train", train), ("val", val), ("test", fold.test_ids))})
    own = base_stage(name) in UNIMODAL or ctx.cfg.recipe == "end-to-end"
    return Stage(fold=fold.index, name=name, model=model_name, train_ids=tuple(train), val_ids=tuple(val),
                 test_ids=tuple(fold.test_ids), train_actors=tuple(_train_actors(fold, name)),
                 test_actors=tuple(fold.test_actors), settings=MappingProxyType(settings),
                 hash=settings_hash(settings), clips=clips,
                 rule=selection_rules.REFIT_STAGE_RULE if is_refit(name) else ctx.cfg.selection,
                 init="own" if own else "unimodal")


def _split_ids(ctx: RunContext, fold: Fold, stage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training clip ids, validation clip ids) of a stage."""
    if is_refit(stage):
        return fold.train_ids + fold.val_ids, ()  # the epoch count is fixed: nothing to validate on
    if selection_rules.get(ctx.cfg.selection).validates_on == "test":
        return fold.train_ids, fold.test_ids  # what the published code did; fixed never sees it
    return fold.train_ids, fold.val_ids  # a rule without validation has no validation actors, so no clips


def _train_actors(fold: Fold, stage: str) -> list[int]:
    return sorted(fold.train_actors + fold.val_actors) if is_refit(stage) else list(fold.train_actors)


def stage_settings(ctx: RunContext, fold: Fold, stage: str, model_name: str) -> dict:
    if is_refit(stage):
        return refit_settings(ctx, fold, stage, model_name)
    # A refit run's selection stage is the plain `val` stage (same settings, same folder name), so
    # an earlier `val` run's stages are reused through --unimodal-dir or the same --out.
    return selection_settings(ctx, fold, stage, model_name)


def refit_settings(ctx: RunContext, fold: Fold, stage: str, model_name: str) -> dict:
    """The selection stage's settings on train + val actors, for the epoch count it selected."""
    base = base_stage(stage)
    selected = stage_settings(ctx, fold, base, model_name)
    if not ctx.layout.is_done(fold.index, base):
        raise ConfigError(f"{stage}: the selection stage {ctx.layout.stage_dir(fold.index, base)} has not finished")
    epochs = int(ctx.layout.checkpoint_meta(fold.index, base)["epoch"]) + 1  # epochs are counted from 0
    fold_actors = {"test": list(fold.test_actors), "val": [], "train": _train_actors(fold, stage)}
    return dict(selected, stage=stage, fold=fold_actors, epochs=epochs, selection="refit",
                refit_of=settings_hash(selected))


def selection_settings(ctx: RunContext, fold: Fold, stage: str, model_name: str) -> dict:
    """What a selection stage's hash covers: its data (preprocessing, fold actors) and every stage-
    scope setting (presets.stage_values, from the fields' declared scopes). A unimodal stage holds
    only what the unimodal network sees: every fusion model of the fold (and the unimodal model
    itself, same folder) reuses it."""
    unimodal = stage in UNIMODAL
    data = {"stage": stage, "preprocess_hash": ctx.preprocess_hash, "fold": fold.actors_dict()}
    model = {} if unimodal else {"model": model_name}
    return {**data, **model, **stage_values(ctx.cfg, stage, unimodal)}


def stage_done(layout: RunLayout, stage: Stage) -> bool:
    """Whether `stage` is finished with its settings; ConfigError when its folder finished with
    other settings or on other clips (stages from before clips were recorded are judged on their
    settings)."""
    if not layout.is_done(stage.fold, stage.name):
        return False
    found = layout.read_result(stage.fold, stage.name)
    path = layout.stage_dir(stage.fold, stage.name)
    if found.settings_hash != stage.hash:
        raise ConfigError(
            f"{path} was trained with other settings (hash {found.settings_hash} != {stage.hash}); "
            f"use another output or unimodal folder"
        )
    _check_clips(path, found.clips, stage.clips)
    return True


def _check_clips(path: Path, found: str | None, clips: str | None) -> None:
    if found is not None and clips is not None and found != clips:
        raise ConfigError(f"{path} was trained on other clips (another cache or corpus); use another output or unimodal folder")


def check_stage_start(layout: RunLayout, stage: Stage, clips: bool = True) -> None:
    """A half-trained stage may only be resumed with the settings (and clips) it started with;
    a new one records them. `clips`: False for an import, which records no clips."""
    started = layout.read_start(stage.fold, stage.name)
    if started is not None:
        if started.settings_hash != stage.hash:
            path = layout.stage_dir(stage.fold, stage.name)
            raise ConfigError(f"{path} holds a partial stage with other settings; remove it or use another folder")
        _check_clips(layout.stage_dir(stage.fold, stage.name), started.clips, stage.clips if clips else None)
    elif is_global_zero():
        layout.write_start(stage.fold, stage.name, StageStart(stage.hash, dict(stage.settings), stage.clips if clips else None))
