"""Run reports: collect every stage's metrics.json, aggregate over folds, write Markdown/JSON/PNG.

`build_report(run_dir)` needs only the run folder (no model, no cache), so `evaluate` and
`reproduce` rebuild it after re-scoring.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from avemotion.data.labels import recorded_labels
from avemotion.evaluation.metrics import (
    SCALAR_METRICS,
    aggregate_folds,
    paired_comparison,
    pooled_confusion,
    slices,
)
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import RunLayout, RunRecord, StageResult, read_run_folder, run_models, scored_stage
from avemotion.utils.io import write_json, write_text

TABLE1 = ("video", "audio", "averaging", "multiplicative", "multiplication", "concat_fc", "mcbp", "mmtm", "msaf", "cfn_sr", "tacfn")
TABLE2 = ("cfn_sr", "cfn_sr_no_block", "cfn_sr_v2a", "cfn_sr_no_sa", "cfn_sr_no_residual")
REFERENCE = "cfn_sr"
OPTIMISTIC_NOTE = (
    "OPTIMISTIC: checkpoints were selected on the test fold (legacy selection: best test accuracy "
    "over epochs, as in the published code). These numbers are not an estimate of accuracy on unseen actors."
)
LEGACY_NOTE = (
    "LEGACY: the published pipeline (--legacy): batch-summed attention, no stem ReLU in the fusion "
    "models, MSAF double mask, per-frame augmentation, legacy crop and padding; see docs/training.md."
)
# The published protocol trained every RAVDESS fold on the 20 non-test actors (SPEC 3 and 5).
PAPER_TRAIN = {"actors": 20, "clips": 1200}
# ... of RAVDESS's 24 actors, in 6 folds of 4 test actors
PAPER_PROTOCOL = {"actors": 24, "folds": 6}


def on_paper_corpus(run: RunRecord) -> bool:
    """Whether the paper's RAVDESS figures can stand beside this run's (the one rule: report.md's
    paper columns, tables and training line, and the console summary, all follow it): a run on
    RAVDESS (runs made before run.json recorded the dataset were all RAVDESS-layout) at the paper's
    protocol, its 24 actors in 6 folds. Not the synthetic corpus (RAVDESS layout, drawn faces, 8
    actors by default), not a cache lacking actors, not another fold count."""
    actors = {a for fold in run.folds for a in fold.get("test", [])}
    return (run.dataset in (None, "ravdess") and len(run.folds) == PAPER_PROTOCOL["folds"]
            and len(actors) == PAPER_PROTOCOL["actors"])


def shows_paper(report: dict) -> bool:
    """Whether a built report (build_report) puts the paper's figures beside its own: on_paper_corpus,
    as the report recorded it (its `paper_train`)."""
    return report.get("paper_train") is not None


# ------------------------------------------------------------------------------------- collection


def scored_stages(layout: RunLayout, run: RunRecord, model: str) -> dict[int, str]:
    """fold index -> the stage of `model` that scored the test fold and has its results (its refit
    in a refit run)."""
    stage = scored_stage(model, run.refit)
    return {k: stage for k in range(len(run.folds)) if layout.has_result(k, stage)}


def collect_model(layout: RunLayout, run: RunRecord, name: str) -> dict | None:
    stages = scored_stages(layout, run, name)
    if not stages:
        return None
    docs = {k: layout.read_result(k, s) for k, s in stages.items()}
    first = docs[min(docs)]
    labels = first.class_names  # the run's class names (RAVDESS's 8 when not recorded)
    fold_scores = {k: d.metrics for k, d in docs.items()}
    predictions = [p for k in sorted(docs) for p in docs[k].predictions]
    speakers = run.speaker_names()
    paper = paper_numbers(name)
    if not on_paper_corpus(run):  # the paper's accuracies are RAVDESS's: none beside another corpus
        paper["accuracy"] = None
    return {
        "model": name,
        "folds": {str(k): _fold_row(d, speakers) for k, d in sorted(docs.items())},
        "mean_std": aggregate_folds(fold_scores),
        "confusion": pooled_confusion(fold_scores),
        "labels": list(labels),
        "slices": _named_actors(slices(predictions, names=labels), speakers),
        "n_clips": len(predictions),
        "optimistic": any(d.optimistic for d in docs.values()),
        "params": count_params(layout.best(min(stages), stages[min(stages)])),
        "paper": paper,
        # relative to the run folder, so that a moved or copied run is read whole
        "stage_dirs": {str(k): os.path.relpath(layout.stage_dir(k, s), layout.root) for k, s in stages.items()},
    }


def _named_actors(groups: dict, speakers: dict[int, str]) -> dict:
    """The per-actor slice keyed by speaker name where the corpus names its speakers."""
    if speakers and "actor" in groups:
        groups["actor"] = {speakers.get(int(a), a): s for a, s in groups["actor"].items()}
    return groups


def _fold_row(doc: StageResult, speakers: dict[int, str] | None = None) -> dict:
    m = doc.metrics
    test = list(doc.test_actors) or None
    return {
        **{k: m[k] for k in SCALAR_METRICS},
        "n": m["n"],
        "per_class_recall": m["per_class_recall"],
        "confusion": m["confusion"],
        "epoch": doc.epoch,
        "selection": doc.selection,
        "scored": doc.scored,
        "test_actors": test,
        # the corpus's speaker names of the test actors (manifest, IEMOCAP), else the ids
        "test_speakers": [speakers.get(int(a), str(a)) for a in test] if speakers and test else None,
        # beside the paper's 20 actors / 1200 clips: older stages did not record them (None)
        "train_actors": len(doc.train_actors) if doc.train_actors is not None else None,
        "train_clips": doc.train_clips,
    }


def count_params(stem: Path) -> int | None:
    try:
        from avemotion.models.checkpoint import read_checkpoint_meta
        from avemotion.models.registry import create_model
        from avemotion.models.summary import count_parameters

        meta = read_checkpoint_meta(stem)
        config = dict(meta["model_config"])
        return count_parameters(create_model(meta["model"], num_classes=config.pop("num_classes", 8), **config))
    except Exception:  # a report must still be written when a model can no longer be built
        return None


def paper_numbers(name: str) -> dict:
    try:
        from avemotion.models.registry import model_info

        info = model_info(name)
        return {"accuracy": info.paper_accuracy, "params_m": info.paper_params}
    except Exception:
        return {"accuracy": None, "params_m": None}


def build_report(run_dir: str | Path, primary: str | None = None) -> dict:
    """Collect, compare and write report.{md,json}, confusion.{png,json}, curves.png."""
    run_dir = Path(run_dir)
    layout, run = read_run_folder(run_dir)
    models = {n: m for n in run_models(run) if (m := collect_model(layout, run, n)) is not None}
    primary = primary if primary in models else next((n for n in reversed(run.models) if n in models), None)
    report = {
        "run_dir": str(run_dir),
        "primary": primary,
        "selection": run.selection,
        "optimistic": run.optimistic,
        "legacy": run.legacy,
        "refit": run.refit,
        "label": run.label or "",
        "scored": "refit on all training actors" if run.refit else "selected checkpoint",
        "paper_train": PAPER_TRAIN if on_paper_corpus(run) else None,
        "dataset": run.dataset,
        "note": _note(run),
        "preset": run.preset,
        "preprocess_hash": run.preprocess_hash,
        "models": models,
        "comparison": compare_models(models),
    }
    write_outputs(layout, report)
    return report


def _note(run: RunRecord) -> str:
    if run.optimistic:
        return OPTIMISTIC_NOTE
    if run.refit:
        return ("epoch count selected on inner validation actors, then retrained on all training actors "
                "for that many epochs; only the refit scored the test fold, once")
    return selection_rules.note(run.selection)


def compare_models(models: dict) -> dict:
    """Per-fold accuracy differences of every model against CFN-SR (or the first model)."""
    if len(models) < 2:
        return {}
    ref = REFERENCE if REFERENCE in models else next(iter(models))
    ref_acc = _fold_acc(models[ref])
    return {
        "reference": ref,
        "metric": "accuracy",
        "models": {n: paired_comparison(_fold_acc(m), ref_acc) for n, m in models.items() if n != ref},
    }


def _fold_acc(model: dict) -> dict[int, float]:
    return {int(k): row["accuracy"] for k, row in model["folds"].items()}


# ----------------------------------------------------------------------------------------- output


def write_outputs(layout: RunLayout, report: dict) -> None:
    run_dir = layout.root
    write_json(run_dir / "report.json", report)
    first = next(iter(report["models"].values()), {})
    write_json(run_dir / "confusion.json", {"classes": list(recorded_labels(first)),
                                            "models": {n: m["confusion"] for n, m in report["models"].items()},
                                            "labels": {n: list(recorded_labels(m)) for n, m in report["models"].items()}})
    primary = report["primary"]
    if primary:
        from avemotion.evaluation.plots import plot_confusion, plot_curves

        model = report["models"][primary]
        title = f"{primary}: pooled test folds" + (" (OPTIMISTIC selection)" if report["optimistic"] else "")
        plot_confusion(model["confusion"], list(recorded_labels(model)), run_dir / "confusion.png", title)
        stage = scored_stage(primary, report["refit"])
        curves = {int(k): read_curves(layout.curves_dir(int(k), stage)) for k in model["folds"]}
        plot_curves(curves, run_dir / "curves.png", f"{primary}: training curves")
    write_text(run_dir / "report.md", render_markdown(report))


def read_curves(logs: Path) -> dict[int, dict]:
    """epoch -> {metric: value} from every CSV log version in `logs` (a resumed run adds a version)."""
    out: dict[int, dict] = {}
    versions = sorted(logs.glob("version_*"), key=lambda p: int(p.name.split("_")[-1]))
    for version in versions:
        path = version / "metrics.csv"
        if not path.exists():
            continue
        with path.open() as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                for key, value in row.items():
                    if key not in ("epoch", "step") and value not in ("", None):
                        out.setdefault(epoch, {})[key] = float(value)
    return out


def _pm(stat: dict | None, scale: float = 100.0) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{stat['mean'] * scale:.2f} ± {stat['std'] * scale:.2f}"


def _num(value, fmt="{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def render_markdown(report: dict) -> str:
    lines = ["# avemotion run report" + (f" ({report['label']})" if report.get("label") else ""), ""]
    if report.get("legacy"):
        lines += [f"> **{LEGACY_NOTE}**", ""]
    if report["optimistic"]:
        lines += [f"> **{OPTIMISTIC_NOTE}**", ""]
    lines += [
        f"- run: `{report['run_dir']}`",
        f"- preset: {report['preset']}; selection: {report['selection']} ({report['note']})",
        f"- scored on the test folds: {report.get('scored', 'selected checkpoint')}",
        _training_line(report),
        f"- preprocessing hash: `{report['preprocess_hash']}`",
        "- accuracy, UAR and macro-F1 in percent, mean ± sample std over the test folds",
        "",
        "## Models",
        "",
        "| model | folds | accuracy | UAR | macro-F1 | paper acc. | params | paper params (M) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in report["models"].items():
        lines.append(_model_row(name, m))
    lines += _paper_tables(report)
    lines += _comparison_section(report)
    for name, m in report["models"].items():
        lines += _model_section(name, m, name == report["primary"], report.get("paper_train"))
    return "\n".join(lines) + "\n"


def _training_line(report: dict) -> str:
    line = "- training per fold: actors and clips in the fold tables"
    paper = report.get("paper_train")
    if paper:
        return line + f"; the paper trained on {paper['actors']} actors ({paper['clips']} clips) per RAVDESS fold"
    return line + (f" (corpus: {report.get('dataset')}; the paper's figures are RAVDESS's, {PAPER_PROTOCOL['actors']} "
                   f"actors in {PAPER_PROTOCOL['folds']} folds, and are not shown)")


def fold_speakers(row: dict) -> str:
    """A fold's test actors as the corpus names them (ids where it does not)."""
    return ", ".join(row.get("test_speakers") or map(str, row.get("test_actors") or []))


def _model_row(name: str, m: dict) -> str:
    ms = m["mean_std"]
    params = f"{m['params']:,}" if m["params"] is not None else "–"
    return (
        f"| {name} | {len(m['folds'])} | {_pm(ms['accuracy'])} | {_pm(ms['uar'])} | {_pm(ms['macro_f1'])} "
        f"| {_num(m['paper']['accuracy'])} | {params} | {_num(m['paper']['params_m'])} |"
    )


def _paper_tables(report: dict) -> list[str]:
    """The paper's tables 1 and 2 beside ours, for the models this run has (on the paper's corpus)."""
    lines = []
    if not shows_paper(report):
        return lines
    for title, names in (("Table 1 (fusion methods)", TABLE1), ("Table 2 (CFN-SR ablations)", TABLE2)):
        present = [n for n in names if n in report["models"]]
        if len(present) < 2:
            continue
        lines += ["", f"## Paper {title}", "",
                  "The paper's numbers are RAVDESS, 6 folds, legacy selection on the test fold, full models; "
                  "a difference means something only for a `paper`-preset run on RAVDESS.", "", "| model | ours: accuracy | paper (legacy selection) | ours - paper |", "|---|---|---|---|"]
        for n in present:
            m = report["models"][n]
            ours, paper = m["mean_std"]["accuracy"]["mean"], m["paper"]["accuracy"]
            delta = f"{ours * 100 - paper:+.2f}" if ours is not None and paper is not None else "–"
            lines.append(f"| {n} | {_pm(m['mean_std']['accuracy'])} | {_num(paper)} | {delta} |")
    return lines


def _comparison_section(report: dict) -> list[str]:
    comp = report["comparison"]
    if not comp:
        return []
    lines = [
        "",
        f"## Paired comparison with {comp['reference']} (accuracy, per fold)",
        "",
        "Differences are model - reference on the same test folds. With few folds both tests have low "
        "power (6 folds: the exact Wilcoxon signed-rank p-value cannot go below 0.031).",
        "",
        "| model | folds | difference (points) | Wilcoxon p | paired t p |",
        "|---|---|---|---|---|",
    ]
    for name, c in comp["models"].items():
        lines.append(
            f"| {name} | {len(c['folds'])} | {_pm(c['difference'])} | {_num(c['wilcoxon_p'], '{:.3f}')} | {_num(c['ttest_p'], '{:.3f}')} |"
        )
    return lines


def _model_section(name: str, m: dict, primary: bool, paper_train: dict | None = None) -> list[str]:
    lines = ["", f"## {name}" + (" (this run's model)" if primary else ""), ""]
    if m["optimistic"]:
        lines += ["*Selected on the test fold: optimistic.*", ""]
    paper = f" (paper {paper_train['actors']} / {paper_train['clips']})" if paper_train else ""
    lines += [f"| fold | test actors | train actors / clips{paper} | scored | epoch | n | accuracy | UAR | macro-F1 |",
              "|---|---|---|---|---|---|---|---|---|"]
    for k, row in m["folds"].items():
        actors = fold_speakers(row)
        train = f"{_num(row.get('train_actors'), '{}')} / {_num(row.get('train_clips'), '{}')}"
        lines.append(
            f"| {k} | {actors} | {train} | {row.get('scored') or '–'} | {row['epoch']} | {row['n']} "
            f"| {_num(row['accuracy'] * 100)} | {_num(row['uar'] * 100)} | {_num(row['macro_f1'] * 100)} |"
        )
    lines += ["", "Per-class recall (mean ± std over folds, percent):", "", "| class | recall |", "|---|---|"]
    lines += [f"| {c} | {_pm(s)} |" for c, s in m["mean_std"]["per_class_recall"].items()]
    for key in ("gender", "intensity", "actor"):
        groups = m["slices"].get(key, {})
        if not groups:
            continue
        lines += ["", f"By {key} (pooled test predictions):", "", f"| {key} | n | accuracy | UAR |", "|---|---|---|---|"]
        lines += [
            f"| {g} | {s['n']} | {_num(s['accuracy'] * 100)} | {_num(None if s['uar'] is None else s['uar'] * 100)} |"
            for g, s in groups.items()
        ]
    return lines


def summary_table(report: dict):
    """A rich Table with one row per model (mean ± std over folds)."""
    from rich.table import Table

    title = "avemotion: test folds, mean ± std"
    if report.get("legacy"):
        title += " [bold yellow](LEGACY pipeline)[/]"
    if report["optimistic"]:
        title += " [bold red](OPTIMISTIC: selected on the test fold)[/]"
    table = Table(title=title)
    paper = shows_paper(report)  # a paper column only beside a run on the paper's corpus and protocol
    for col in ("model", "folds", "accuracy %", "UAR %", "macro-F1 %") + (("paper %",) if paper else ()):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, m in report["models"].items():
        ms = m["mean_std"]
        cells = (name, str(len(m["folds"])), _pm(ms["accuracy"]), _pm(ms["uar"]), _pm(ms["macro_f1"]))
        table.add_row(*cells, *((_num(m["paper"]["accuracy"]),) if paper else ()))
    return table
