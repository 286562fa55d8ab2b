"""Compare two outputs of train_and_predict.sh exactly: every stage's test predictions, scores, selected
epoch, settings hash, clips digest and evaluation batches, the last epoch's predictions, the selected
weights byte for byte, and `predict`'s JSON (where the files and the run lie aside). Prints each
difference and a count; exits 1 when there is any.

    python bench/equivalence/compare_runs.py BEFORE AFTER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STAGE_KEYS = ("predictions", "metrics", "epoch", "settings_hash", "clips", "eval_batches")


def stage_differences(a: Path, b: Path) -> tuple[int, list[str]]:
    compared, found = 0, []
    for path in sorted((a / "run").rglob("metrics.json")):
        rel = path.relative_to(a)
        x, y = json.loads(path.read_text()), json.loads((b / rel).read_text())
        x["last_predictions"] = (x.get("last_epoch") or {}).get("predictions")
        y["last_predictions"] = (y.get("last_epoch") or {}).get("predictions")
        for key in (*STAGE_KEYS, "last_predictions"):
            compared += 1
            found += [f"{rel} {key}"] if x.get(key) != y.get(key) else []
    for path in sorted((a / "run").rglob("best.safetensors")):
        compared += 1
        found += [str(path.relative_to(a))] if path.read_bytes() != (b / path.relative_to(a)).read_bytes() else []
    return compared, found


def without_places(doc):
    """`predict`'s output less where things lie: the run folder, and the files' folders."""
    if isinstance(doc, dict):
        return {k: (Path(v).name if k == "file" else without_places(v)) for k, v in doc.items() if k != "run"}
    return [without_places(v) for v in doc] if isinstance(doc, list) else doc


def main(a: Path, b: Path) -> int:
    compared, found = stage_differences(a, b)
    outputs = [without_places(json.loads((d / "predict.json").read_text())) for d in (a, b)]
    compared += 1
    found += ["predict.json"] if outputs[0] != outputs[1] else []
    for line in found:
        print("DIFF", line)
    stages = len(list((a / "run").rglob("metrics.json")))
    print(f"{compared} comparisons over {stages} stages and predict: {len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
