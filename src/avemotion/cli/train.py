"""CLI commands: train, evaluate, reproduce (the evaluation protocol and training recipe of docs/training.md)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Optional

import typer

from avemotion.errors import ConfigError
from avemotion.registries import selection as selection_rules

SELECTION_HELP = selection_rules.help_text()  # each rule's part, from registries.selection
LEGACY_HELP = ("the published pipeline at once: test-fold selection on all non-test actors, batch-summed attention, "
               "no stem ReLU in fusion models, MSAF double mask, per-frame augmentation, batch 16 (MSAF 4), "
               "Adam 1e-3, 70 epochs; needs a cache from `prepare --legacy`. Explicit options override it.")


def _opt(default, *names, help: str = "", **kwargs):
    return typer.Option(default, *names, help=help, **kwargs)


# The one definition of the training options: `train`, `reproduce` and `import-unimodal` are built
# from it, so the commands cannot drift apart. (name, type, typer option); TrainConfig fields are
# passed through as overrides, None meaning "the preset's value".
TRAIN_OPTIONS = (
    ("data", Path, lambda: _opt(..., "--data", help="prepared cache folder (avemotion prepare)")),
    ("out", Optional[Path], lambda: _opt(None, "--out", help="run folder (default: runs/<model> for train, runs/reproduce for reproduce)")),
    ("preset", str, lambda: _opt("paper", "--preset", help="paper (the published recipe), improved (paper plus MFCC shift and masks, docs/results.md) or small (tiny models, CPU minutes)")),
    ("folds", str, lambda: _opt("all", "--folds", help="outer folds to run: all or e.g. 0,1")),
    ("legacy", bool, lambda: _opt(False, "--legacy", help=LEGACY_HELP)),
    ("selection", Optional[str], lambda: _opt(None, "--selection", help=SELECTION_HELP)),
    ("refit", bool, lambda: _opt(False, "--refit", help="after selecting the epoch count on the validation actors, retrain on all training actors for that many epochs; the report shows the refit")),
    ("recipe", Optional[str], lambda: _opt(None, "--recipe", help="two-stage (unimodal then fusion, default) or end-to-end")),
    ("epochs", Optional[int], lambda: _opt(None, "--epochs", help="epochs of each training stage (the unimodal ones too unless --unimodal-epochs) (default: the preset's value: paper 70, small 3)")),
    ("unimodal_epochs", Optional[int], lambda: _opt(None, "--unimodal-epochs", help="epochs of the unimodal stages (default: the preset's value: --epochs for paper, 4 for small)")),
    ("batch_size", Optional[int], lambda: _opt(None, "--batch-size", help="clips per training batch (default: the preset's value: 16)")),
    ("lr", Optional[float], lambda: _opt(None, "--lr", help="Adam learning rate (default: the preset's value: 1e-3)")),
    ("seed", Optional[int], lambda: _opt(None, "--seed", help="seed of initialisation, augmentation and batch order (default: the preset's value: 0)")),
    ("n_folds", Optional[int], lambda: _opt(None, "--n-folds", help="outer folds the actors are split into (default: the preset's value: paper 6, small 4)")),
    ("n_val", Optional[int], lambda: _opt(None, "--n-val", help=f"inner validation actors per fold, 0 with --selection {selection_rules.without_validation()} (default: the preset's value: paper 4, small 2)")),
    ("augment", Optional[str], lambda: _opt(None, "--augment", help="clip (default), frame (legacy) or none")),
    ("audio_augment", Optional[str], lambda: _opt(None, "--audio-augment", help="none (default, published), or +-joined parts of mask (MFCC time shift, time/coefficient masks), noise, tempo; drawn per training clip")),
    ("mfcc_norm", Optional[str], lambda: _opt(None, "--mfcc-norm", help="none (default, published); train: per-coefficient mean/std of the training actors' clips, stored in the audio model; speaker: each speaker's own statistics (transductive for test actors)")),
    ("label_smoothing", Optional[float], lambda: _opt(None, "--label-smoothing", help="cross-entropy label smoothing (default 0, published)")),
    ("lr_schedule", Optional[str], lambda: _opt(None, "--lr-schedule", help="constant (default, published) or cosine (annealed to 0 over the stage's epochs)")),
    ("workers", Optional[int], lambda: _opt(None, "--workers", help="DataLoader workers (default: the preset's value: paper 4, small 0)")),
    ("precision", Optional[str], lambda: _opt(None, "--precision", help="auto (bf16-mixed on GPU, 32 on CPU; the default), 32, bf16-mixed")),
    ("channels_last", Optional[str], lambda: _opt(None, "--channels-last", help="channels_last_3d memory format: auto (on GPU; the default), on, off")),
    ("crop_on_device", Optional[str], lambda: _opt(None, "--crop-on-device", help="clip crop/flip on the training device: auto (on GPU; the default), on, off")),
    ("preload", Optional[str], lambda: _opt(None, "--preload", help="fold's clips read once onto the training device: auto (on GPU when they fit in 40% of its free memory; the default), on, off")),
    ("compile_", Optional[str], lambda: _opt(None, "--compile", help="nn.Module.compile() in place: off (default), on, auto (on GPU)")),
    ("deterministic", bool, lambda: _opt(False, "--deterministic", help="torch deterministic algorithms, warn-only")),
    ("unimodal_dir", Optional[Path], lambda: _opt(None, "--unimodal-dir", help="shared folder of per-fold unimodal networks (default: the run folder itself)")),
    ("set_", Optional[list[str]], lambda: _opt(None, "--set", help="model factory argument key=value (repeatable; default: none, the factory's defaults)")),
    ("kinetics", Optional[Path], lambda: _opt(None, "--kinetics", help="Kinetics 3D-ResNets checkpoint for the video encoder (default: none, random initialisation)")),
    ("allow_partial", bool, lambda: _opt(False, "--allow-partial", help="train on a cache holding less than the complete corpus (an interrupted or partly failed prepare, missing actors); refused by default")),
    ("allow_partial_init", bool, lambda: _opt(False, "--allow-partial-init", help="train on when unimodal or Kinetics weights leave encoder tensors uninitialised (refused by default)")),
    ("progress", bool, lambda: _opt(False, "--progress/--no-progress", help="Lightning progress bars")),
)


def with_options(*leading: inspect.Parameter, skip: tuple[str, ...] = ()):
    """Give a `**options` command function the shared TRAIN_OPTIONS after its own parameters."""
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=make(), annotation=kind)
              for name, kind, make in TRAIN_OPTIONS if name not in skip]

    def decorate(func):
        func.__signature__ = inspect.Signature([*leading, *shared])
        return func

    return decorate


def _param(name: str, kind, option) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)


def train_kwargs(options: dict) -> dict:
    """CLI values -> the keyword arguments of training.train/train_many (TrainConfig overrides)."""
    o = dict(options)
    kinetics = o.pop("kinetics")
    model_config = _model_config(o.pop("set_"))
    # the model scale is a run setting passed to every factory: `--set scale=V` sets it (and
    # TrainConfig refuses a value out of range); the class count is the cache's
    scale = (model_config or {}).pop("scale", None)
    if model_config and "num_classes" in model_config:
        raise ConfigError("--set num_classes: the class count is the cache's (its labels), not an option")
    return dict(
        preset=o.pop("preset"), folds=o.pop("folds"), unimodal_dir=o.pop("unimodal_dir"), progress=o.pop("progress"),
        num_workers=o.pop("workers"), compile=o.pop("compile_"), model_config=model_config or None, scale=scale,
        kinetics=str(kinetics.resolve()) if kinetics else None,
        # flags: False means "not given", so the preset (or --legacy) decides
        **{k: o.pop(k) or None for k in ("deterministic", "legacy", "refit", "allow_partial", "allow_partial_init")},
        **o,
    )


def _model_config(items: list[str] | None) -> dict | None:
    if not items:
        return None
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value  # parsed against the model factory's declared type (typed_model_config)
    return out


def _print_report(report: dict) -> None:
    from rich.console import Console

    from avemotion.evaluation.report import fold_speakers, summary_table
    from avemotion.utils.logs import speaks

    if not speaks():  # under DDP every rank builds the report; one prints it (as one logs)
        return

    console = Console(file=sys.stdout)
    console.print(summary_table(report))
    primary = report["models"].get(report["primary"]) if report["primary"] else None
    if primary:
        paper = report.get("paper_train")
        paper = f"; paper: {paper['actors']}, {paper['clips']}" if paper else ""
        for k, row in primary["folds"].items():
            console.print(
                f"  fold {k}: test actors {fold_speakers(row)}, trained on {row.get('train_actors')} actors "
                f"({row.get('train_clips')} clips{paper}), epoch {row['epoch']}: "
                f"accuracy {row['accuracy'] * 100:.1f}%, UAR {row['uar'] * 100:.1f}%, macro-F1 {row['macro_f1'] * 100:.1f}%"
            )
    if report.get("legacy"):
        console.print("[bold yellow]LEGACY:[/] the published pipeline (--legacy), for comparison with published numbers")
    if report["optimistic"]:
        console.print("[bold red]OPTIMISTIC:[/] checkpoints were selected on the test fold (legacy selection)")
    if report.get("refit"):
        console.print("scored: the refits on all training actors, for the epoch counts selected on the validation actors")
    console.print(f"report: {Path(report['run_dir']) / 'report.md'}")


def models_the_cache_feeds(data: Path, names: list[str]) -> list[str]:
    """`--models all` on a cache lacking a modality: the models it can feed, the others named in one line."""
    from avemotion.data.cache import open_cache
    from avemotion.models.registry import missing_modalities

    available = open_cache(data).modalities
    skipped = [n for n in names if missing_modalities(n, available)]
    if skipped:
        typer.echo(f"skipped (the cache holds {'+'.join(available)} only): {', '.join(skipped)}")
    return [n for n in names if n not in skipped]


def _grid_args(grid: dict) -> dict:
    """The grid options of `reproduce` -> cli.grid.run_grid's keywords (the slurm ones grouped)."""
    slurm = {"partition": grid["slurm_partition"], "account": grid["slurm_account"], "time_min": grid["slurm_time"],
             "gpus_per_task": grid["slurm_gpus"], "array_parallelism": grid["slurm_parallelism"],
             "config": grid["slurm_config"]}
    return dict(launcher=grid["launcher"], seeds=grid["seeds"], grid_workers=grid["grid_workers"],
                threads=grid["threads"], slurm=slurm, dry_run=grid["dry_run"], status=grid["status"],
                gather=grid["gather"])


def register(app: typer.Typer) -> None:
    @app.command("train")
    @with_options(_param("model", str, typer.Option(..., "--model", "-m", help="registered model name (see `avemotion models`)")))
    def train_cmd(model: str, **options) -> None:
        """Train a model with cross-validation over unseen actors, then print and write the report."""
        from avemotion.training import train

        out = options.pop("out") or Path("runs") / model
        data = options.pop("data")
        _print_report(train(model, data, out, **train_kwargs(options)))

    @app.command("evaluate")
    def evaluate_cmd(
        run_dir: Path = typer.Argument(..., help="a finished run folder"),
        data: Optional[Path] = typer.Option(None, "--data", help="cache (default: the one recorded in run.json)"),
        corpus: Optional[Path] = typer.Option(None, "--corpus", help="another corpus's prepared cache: score every fold's model on all its clips of the classes the run knows, by name (written to RUN/cross/; default: none, re-score the run's own corpus)"),
        batch_size: int = typer.Option(16, "--batch-size", help="clips per scoring batch"),
    ) -> None:
        """Re-score a run's selected checkpoints on its test manifests and rebuild the report; or
        with --corpus, score them on another corpus (cross-corpus, shared class names only)."""
        if corpus is not None:
            from avemotion.evaluation.cross import score_run_on

            if data is not None:
                raise ConfigError("--data re-scores the run's own corpus, --corpus scores another one: give one")
            report = score_run_on(run_dir, corpus, batch_size=batch_size)
            typer.echo((Path(report["written"]) / "report.md").read_text(), nl=False)
            return
        from avemotion.evaluation.rescore import evaluate_run

        _print_report(evaluate_run(run_dir, data, batch_size=batch_size))

    from avemotion.cli.grid import GRID_OPTIONS

    @app.command("reproduce")
    @with_options(_param("models", str, typer.Option("all", "--models", help="all or a comma list of registered models")),
                  *(_param(name, kind, make()) for name, kind, make in GRID_OPTIONS))
    def reproduce_cmd(models: str, **options) -> None:
        """Every model on identical folds (shared unimodal stage); paper tables 1-2 and paired tests.
        With --launcher: the grid of models x folds x seeds, cell by cell, here, on a local pool of
        GPUs or on SLURM (docs/training.md, "The reproduce grid")."""
        from avemotion.models import list_models
        from avemotion.training import train_many

        grid = {name: options.pop(name) for name, _, _ in GRID_OPTIONS}
        out = options.pop("out") or Path("runs/reproduce")
        data = options.pop("data")
        if grid["status"] or grid["gather"]:
            from avemotion.cli.grid import run_grid

            run_grid([], data, out, **_grid_args(grid), train={})
            return
        if models == "all":
            names = models_the_cache_feeds(data, list_models())
        else:
            names = [m.strip() for m in models.split(",") if m.strip()]
        if grid["launcher"] or grid["seeds"]:
            from avemotion.cli.grid import run_grid

            grid["launcher"] = grid["launcher"] or "sequential"
            run_grid(names, data, out, **_grid_args(grid), train=train_kwargs(options))
            return
        report = train_many(names, data, out, primary="cfn_sr" if "cfn_sr" in names else names[-1],
                            **train_kwargs(options))
        _print_report(report)

    @app.command("import-unimodal")
    @with_options(
        _param("source", Path, typer.Argument(..., help="folder with resnext50/fold_{k}_resnext50_best.pth and mfccNet/fold_{k}_mfccNet_best.pth")),
        _param("run", Path, typer.Option(..., "--run", help="run folder to import into (created with the options given, as `train --out` would)")),
        skip=("out", "progress"),
    )
    def import_cmd(source: Path, run: Path, **options) -> None:
        """Import the published per-fold unimodal checkpoints as a run's video/audio stages; `train` with
        the same options then trains only the fusion stage, as the paper did."""
        from avemotion.training.published import import_unimodal

        data = options.pop("data")
        paths = import_unimodal(source, run, data, **train_kwargs(dict(options, progress=False)))
        typer.echo(f"imported {len(paths)} unimodal stages into {run}; train with the same options to fit the fusion stage")
