"""`avemotion evaluate RUN --corpus CACHE`: a finished run's checkpoints scored on another corpus.

Every fold's scored checkpoint (the one the run's report scores: selected, or its refit) of every
model in the run scores every clip of the other corpus's cache whose class the model knows, by
name (scoring.score_clips: the shared classes only). The other corpus's speakers are not the
run's, so each fold's model is an independent estimate: the report gives each fold's scores and
their mean +- std, in the shared class names, and says which classes were left out. Clips that hold
what one of the run's own clips holds (data.cache.content_key: the same media prepared again, under
any name) are left out and counted, whatever the corpus is called. Written to
RUN/cross/<dataset>-<cache identity>/ (report.json, report.md): two corpora never share a folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from avemotion.errors import ConfigError
from avemotion.evaluation.metrics import aggregate_folds, pooled_confusion
from avemotion.evaluation.report import scored_stages
from avemotion.run_layout import RunLayout, RunRecord, read_run_folder, run_models
from avemotion.utils.io import write_json, write_text

logger = logging.getLogger(__name__)


def score_run_on(run_dir: str | Path, corpus: str | Path, *, batch_size: int = 16, device: str | None = None) -> dict:
    """Score the run's models on the cache `corpus`; returns (and writes) the cross-corpus report."""
    import torch

    from avemotion.data.cache import open_cache
    from avemotion.data.dataset import speaker_mfcc_stats
    from avemotion.evaluation.scoring import score_clips

    run_dir = Path(run_dir)
    layout, run = read_run_folder(run_dir)
    cache = open_cache(corpus)
    from avemotion.data.cache import cache_identity, clip_digests

    records = cache.records()  # one read of every clip's JSON, for every fold and model below
    dataset = cache.dataset(records)
    identity = cache_identity(clip_digests(records))
    seen = seen_in_run(layout, run, records, dataset)
    if seen:
        if len(seen) == len(records):
            raise ConfigError(f"{cache.path}: every clip is one of the run's own (e.g. {sorted(seen)[0]}); "
                              "`avemotion evaluate RUN` re-scores a run on its own corpus, --corpus is for another one")
        logger.info(f"{len(seen)} clips of {cache.path} are clips of the run's own corpus (same content): left out")
        records = [r for r in records if r["clip_id"] not in seen]
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    speaker_norm = speaker_mfcc_stats(cache) if run.mfcc_norm == "speaker" else None
    models = {}
    for name in run_models(run):
        folds = {}
        for k, stage in scored_stages(layout, run, name).items():
            folds[k] = score_clips(layout.best(k, stage), cache, records=records, batch_size=batch_size, device=device,
                                   speaker_norm=speaker_norm)
            logger.info(f"fold {k} {name}: accuracy {folds[k]['metrics']['accuracy']:.3f}, UAR {folds[k]['metrics']['uar']:.3f} "
                        f"on {folds[k]['metrics']['n']} clips")
        if folds:
            models[name] = _model_entry(folds)
    report = {"run_dir": str(run_dir), "corpus": str(cache.path), "corpus_identity": identity, "dataset": dataset,
              "trained_on": run.dataset, "seen_left_out": len(seen), "models": models}
    out = layout.cross_dir(f"{dataset or 'corpus'}-{identity}")  # one folder per corpus content
    write_json(out / "report.json", report)
    write_text(out / "report.md", render_markdown(report))
    report["written"] = str(out)
    return report


def seen_in_run(layout: RunLayout, run: RunRecord, records: list[dict], dataset: str | None) -> set[str]:
    """Ids of the clips in `records` that the run has seen: by content (run.json's content keys,
    or, for runs written before them, its cache's records when that cache is still there), and by
    id when the corpus is the run's own dataset. Scoring them would say nothing about another corpus."""
    from avemotion.data.cache import content_key

    keys = set(run.content_keys or _recorded_cache_keys(run))
    seen = {r["clip_id"] for r in records if content_key(r) in keys}
    if run.dataset == dataset:
        ids = {r["clip_id"] for r in records}
        for k in range(len(run.folds)):
            if layout.manifest(k).is_file():
                fold = layout.read_manifest(k)
                seen |= ids & {*fold.train_ids, *fold.val_ids, *fold.test_ids}
    return seen


def _recorded_cache_keys(run: RunRecord) -> set[str]:
    from avemotion.data.cache import content_key, open_cache

    if run.cache is None:
        return set()
    try:
        return {k for k in map(content_key, open_cache(run.cache).records()) if k is not None}
    except (OSError, ConfigError):
        return set()


def _model_entry(folds: dict[int, dict]) -> dict:
    first = folds[min(folds)]
    scores = {k: f["metrics"] for k, f in folds.items()}
    return {
        "labels": first["labels"],
        "model_labels": first["model_labels"],
        "left_out": first["left_out"],  # clips of classes the model lacks (the same for every fold)
        "folds": {str(k): {**{m: s[m] for m in ("n", "accuracy", "uar", "macro_f1", "per_class_recall")},
                           "outside": folds[k]["outside"]} for k, s in sorted(scores.items())},
        "mean_std": aggregate_folds(scores),
        "confusion": pooled_confusion(scores),
    }


def _pct(stat: dict) -> str:
    return "–" if stat.get("mean") is None else f"{stat['mean'] * 100:.2f} ± {stat['std'] * 100:.2f}"


def render_markdown(report: dict) -> str:
    lines = ["# avemotion cross-corpus scores", "",
             f"- run: `{report['run_dir']}` (trained on {report.get('trained_on') or 'RAVDESS-layout'} clips)",
             f"- scored on: `{report['corpus']}` ({report.get('dataset')}), every clip of a class the model knows",
             f"- each fold's model scores the same clips, none of them seen by the run ({report.get('seen_left_out', 0)} "
             "clips holding the content of the run's own clips were left out); mean ± sample std over folds",
             "- the model chooses among the shared classes only; 'outside' counts the clips its unrestricted "
             "choice put in a class the corpus lacks", ""]
    for name, m in report["models"].items():
        left = ", ".join(f"{c} {n}" for c, n in m["left_out"].items()) or "none"
        lines += [f"## {name}", "", f"Shared classes: {', '.join(m['labels'])} (model: {', '.join(m['model_labels'])}); "
                  f"clips left out (classes the model lacks): {left}.", "",
                  f"Accuracy {_pct(m['mean_std']['accuracy'])} %, UAR {_pct(m['mean_std']['uar'])} %, "
                  f"macro-F1 {_pct(m['mean_std']['macro_f1'])} %", "",
                  "| fold model | n | accuracy | UAR | macro-F1 | outside |", "|---|---|---|---|---|---|"]
        for k, row in m["folds"].items():
            lines.append(f"| {k} | {row['n']} | {row['accuracy'] * 100:.2f} | {row['uar'] * 100:.2f} "
                         f"| {row['macro_f1'] * 100:.2f} | {row['outside']} |")
        lines += ["", "| class | recall (mean ± std) |", "|---|---|"]
        lines += [f"| {c} | {_pct(s)} |" for c, s in m["mean_std"]["per_class_recall"].items()]
        lines.append("")
    return "\n".join(lines) + "\n"
