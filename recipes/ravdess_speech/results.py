"""Tables of docs/results.md from the runs of recipes/ravdess_speech/run.sh (and ablation runs).

    python recipes/ravdess_speech/results.py OUT [--png docs/img/ravdess_speech_confusion.png]
    python recipes/ravdess_speech/results.py OUT --ablation NAME=PREFIX ...   # e.g. cosine=cos_s

Every figure is a mean over the seeds of a 6-fold mean, +- the std over seeds; "+- folds" is the
mean over seeds of the std over folds. Runs are OUT/<prefix><seed>.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from avemotion import EMOTIONS
from avemotion.evaluation.seeds import summarize_seeds

PAPER = 56.53  # Table 1, "1D CNN (Aud.)", test-fold selection
RULES = (  # (name, run prefix, which scores)
    ("honest: epoch selected on 4 inner validation actors (16 training actors)", "val_s", "selected"),
    ("honest: refit on all 20 training actors for the selected epoch count", "refit_s", "selected"),
    ("honest: last epoch (70), 20 training actors", "legacy_s", "last_epoch"),
    ("OPTIMISTIC (published): best test-fold epoch, 20 training actors", "legacy_s", "selected"),
)


def runs(out: Path, prefix: str) -> list[Path]:
    """OUT/<prefix><seed> run folders with at least one finished fold; their report is rebuilt from
    the finished stages (a run still going shows the folds it has, the tables say how many)."""
    from avemotion.evaluation.report import build_report

    pattern = re.compile(re.escape(prefix) + r"\d+$")
    found = []
    for p in sorted(out.iterdir()):
        # a refit run's stages live in its --unimodal-dir (the val run it refits), hence report.json
        if pattern.match(p.name) and ((p / "report.json").exists() or list(p.glob("fold_*/audio*/metrics.json"))):
            build_report(p, primary="audio")
            found.append(p)
    return found


def pm(stat: dict) -> str:
    return f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}"


def main_table(summaries: list[tuple[str, dict]]) -> list[str]:
    lines = ["| selection rule | train actors / clips per fold | seeds x folds | accuracy % | ± folds | UAR % | macro-F1 % | paper % |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in summaries:
        actors, clips = next(iter(s["train"].values()))
        folds = s["n_folds_per_seed"]
        lines.append(f"| {name} | {actors} / {clips} | {len(s['seeds'])} x {'/'.join(map(str, folds))} | {pm(s['over_seeds']['accuracy'])} | "
                     f"{100 * s['over_folds']['accuracy']:.2f} | {pm(s['over_seeds']['uar'])} | "
                     f"{pm(s['over_seeds']['macro_f1'])} | {PAPER} |")
    return lines


def fold_table(summaries: list[tuple[str, dict]]) -> list[str]:
    folds = list(summaries[0][1]["per_fold"])
    lines = ["| rule | " + " | ".join(f"fold {k} (actors {4 * int(k) + 1}-{4 * int(k) + 4})" for k in folds) + " |",
             "|---|" + "---|" * len(folds)]
    for name, s in summaries:
        cells = [pm(s["per_fold"][k]["accuracy"]) if k in s["per_fold"] else "not run" for k in folds]
        lines.append(f"| {name.split(':')[0]}: {name.split(':')[1].split(',')[0].strip()} | " + " | ".join(cells) + " |")
    return lines


def seed_table(summaries: list[tuple[str, dict]]) -> list[str]:
    seeds = summaries[0][1]["seeds"]
    lines = ["| rule | " + " | ".join(f"seed {s}: acc / UAR / F1 %" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
    for name, s in summaries:
        cells = [" / ".join(f"{100 * s['per_seed'][seed][m]:.1f}" for m in ("accuracy", "uar", "macro_f1"))
                 for seed in s["seeds"]]
        lines.append(f"| {name.split(',')[0]} | " + " | ".join(cells) + " |")
    return lines


def recall_table(summaries: list[tuple[str, dict]]) -> list[str]:
    lines = ["| rule | " + " | ".join(EMOTIONS) + " |", "|---|" + "---|" * len(EMOTIONS)]
    for name, s in summaries:
        lines.append(f"| {name.split(',')[0]} | " + " | ".join(f"{100 * s['per_class_recall'][e]:.1f}" for e in EMOTIONS) + " |")
    return lines


def slice_tables(s: dict) -> list[str]:
    lines = []
    for key in ("gender", "intensity", "statement", "actor"):
        groups = s["slices"].get(key, {})
        lines += [f"", f"By {key} (n = predictions pooled over folds and seeds):", "",
                  "| " + key + " | n | accuracy % | UAR % |", "|---|---|---|---|"]
        lines += [f"| {g} | {v['n']} | {100 * v['accuracy']:.1f} | {100 * v['uar']:.1f} |" for g, v in groups.items()]
    return lines


def epochs_line(name: str, s: dict) -> str:
    chosen = [e for k in s["epochs"] for e in s["epochs"][k]]
    return f"- {name.split(',')[0]}: selected epochs (0-based) {sorted(chosen)}"


def ablation_table(out: Path, items: list[str]) -> list[str]:
    """One row per NAME=PREFIX (the first is the baseline the deltas are taken against): accuracy on
    the inner validation actors at the selected epochs (what a recipe may be chosen on), then the
    test figures (what it is reported with)."""
    rows = []
    for item in items:
        name, prefix = item.split("=", 1)
        found = runs(out, prefix)
        if found:
            rows.append((name, summarize_seeds(found, "audio")))
    if not rows:
        return ["(no finished runs)"]
    base = rows[0][1]
    lines = ["| recipe (paper preset + option) | seeds x folds | inner-val accuracy % | Δ val | test accuracy % | Δ test | UAR % | macro-F1 % |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in rows:
        val, bval = s["validation"], base["validation"]
        acc = s["over_seeds"]["accuracy"]
        lines.append(
            f"| {name} | {len(s['seeds'])} x {'/'.join(map(str, s['n_folds_per_seed']))} | "
            f"{pm(val) if val else 'n/a'} | {_delta(val, bval)} | {pm(acc)} | {_delta(acc, base['over_seeds']['accuracy'])} | "
            f"{pm(s['over_seeds']['uar'])} | {pm(s['over_seeds']['macro_f1'])} |")
    return lines


def _delta(stat, base) -> str:
    if not stat or not base:
        return "n/a"
    return f"{100 * (stat['mean'] - base['mean']):+.2f}"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--png", type=Path, help="confusion matrix of the honest rule, pooled")
    p.add_argument("--ablation", nargs="*", default=[], metavar="NAME=PREFIX")
    args = p.parse_args(argv)
    found = {prefix: runs(args.out, prefix) for _, prefix, _ in RULES}  # each run's report rebuilt once
    summaries = [(name, summarize_seeds(found[prefix], "audio", scored)) for name, prefix, scored in RULES if found[prefix]]
    if args.ablation:
        print("\n".join(["### Ablations (honest inner-validation selection)", ""] + ablation_table(args.out, args.ablation)))
    if summaries:
        rule_tables(summaries, args.png)


def rule_tables(summaries, png) -> None:
    print("\n".join(["", "### Selection rules", ""] + main_table(summaries)))
    print("\n".join(["", "### Accuracy per fold (mean ± std over seeds)", ""] + fold_table(summaries)))
    print("\n".join(["", "### Per seed (6-fold means)", ""] + seed_table(summaries)))
    print("\n".join(["", "### Per-class recall % (pooled over folds and seeds)", ""] + recall_table(summaries)))
    print("\n".join(["", "### Selected epochs", ""] + [epochs_line(n, s) for n, s in summaries]))
    honest = summaries[0][1]
    print("\n".join(["", "### Slices of the honest rule (inner validation selection)"] + slice_tables(honest)))
    if png:
        from avemotion.evaluation.plots import plot_confusion

        plot_confusion(honest["confusion"], list(EMOTIONS), png,
                       f"audio CNN, real RAVDESS speech, 6 folds x {len(honest['seeds'])} seeds (honest selection)")


if __name__ == "__main__":
    main()
