"""Writers for prediction results: rich table, JSON document, CSV rows; the names of the output
files and the checks that keep them off the inputs and off existing files."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from rich.markup import escape  # file names like "take[1].mp4" are not markup

from avemotion import EMOTIONS
from avemotion.inference.results import FileError, Prediction, Result, Timeline

CSV_COLUMNS = ("file", "kind", "start", "end", "label", "emotion", "probability", "modalities", *EMOTIONS, "error_reason", "error_detail")


def csv_columns(results: list[Result]) -> tuple[str, ...]:
    """CSV_COLUMNS with the run's class names (those of the predictions) in place of RAVDESS's 8."""
    for r in results:
        p = r if isinstance(r, Prediction) else (r.final[0] if isinstance(r, Timeline) and r.final else None)
        if p is not None:
            return (*CSV_COLUMNS[:8], *p.probabilities, *CSV_COLUMNS[-2:])
    return CSV_COLUMNS


def to_json(results: list[Result], meta: dict | None = None) -> str:
    doc = {
        **(meta or {}),
        "failed": sum(isinstance(r, FileError) for r in results),
        "results": [r.to_dict() for r in results],
    }
    return json.dumps(doc, indent=2) + "\n"


def csv_rows(result: Result) -> list[dict]:
    """One row per clip, one per window of a timeline (smoothed where smoothing was asked),
    one per failed file with the error columns filled."""
    if isinstance(result, FileError):
        return [{"file": result.file, "kind": "error", "error_reason": result.reason, "error_detail": result.detail}]
    if isinstance(result, Prediction):
        return [_prediction_row(result, result.file, "clip")]
    kind = "window_smoothed" if result.smoothed is not None else "window"
    return [_prediction_row(p, result.file, kind) for p in result.final]


def _prediction_row(p: Prediction, file: str | None, kind: str) -> dict:
    return {
        "file": file,
        "kind": kind,
        "start": f"{p.start:.3f}",
        "end": f"{p.end:.3f}",
        "label": p.label,
        "emotion": p.emotion,
        "probability": f"{p.probability:.6f}",
        "modalities": "+".join(p.modalities),
        **{name: f"{value:.6f}" for name, value in p.probabilities.items()},
    }


def to_csv(results: list[Result]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=csv_columns(results), restval="", lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerows(csv_rows(result))
    return buffer.getvalue()


def render_table(results: list[Result], console) -> None:
    """A summary row per file, then one table of windows per timeline."""
    from rich.table import Table

    summary = Table(title="Emotion predictions")
    summary.add_column("file", overflow="fold")  # paths are folded, never cut
    for column in ("span (s)", "emotion", "prob.", "modalities", "runner-up"):
        summary.add_column(column)
    for result in results:
        summary.add_row(*_summary_cells(result))
    console.print(summary)
    for result in results:
        if isinstance(result, Timeline):
            smoothed = f", smoothed over {result.smooth} windows" if result.smoothed is not None else ""
            console.print(f"\n[bold]{escape(result.file or '')}[/bold]: {result.window:g} s windows every {result.hop:g} s{smoothed}")
            console.print(_timeline_table(result))


def _summary_cells(result: Result) -> tuple[str, ...]:
    if isinstance(result, FileError):
        return (escape(result.file), "", f"[red]error: {escape(result.detail)}[/red]", "", "", "")
    if isinstance(result, Timeline):
        counts = {}
        for p in result.final:
            counts[p.emotion] = counts.get(p.emotion, 0) + 1
        dominant = max(counts, key=counts.get)
        return (escape(result.file or ""), f"0.00-{result.duration:.2f}", f"timeline: mostly {dominant}", f"{len(result.final)} windows", "+".join(result.modalities), "")
    second = sorted(result.probabilities.items(), key=lambda kv: -kv[1])[1]
    return (escape(result.file or ""), f"{result.start:.2f}-{result.end:.2f}", result.emotion, f"{result.probability:.2f}", "+".join(result.modalities), f"{second[0]} {second[1]:.2f}")


def _timeline_table(timeline: Timeline):
    from rich.table import Table

    table = Table()
    for column in ("start", "end", "emotion", "prob."):
        table.add_column(column, justify="right" if column != "emotion" else "left")
    for p in timeline.final:
        table.add_row(f"{p.start:.2f}", f"{p.end:.2f}", p.emotion, f"{p.probability:.2f}")
    return table


# --- output files: one name per input, and never over an input or an existing file ---------------


def file_labels(videos: list[str | Path]) -> list[str]:
    """A distinct name per input for its per-file outputs (`talk.png` -> `talk_<label>.png`).

    The stem; where stems collide, the fewest trailing folder names that tell the folders apart
    (`a/clip.mp4`, `b/clip.mp4` -> `a_clip`, `b_clip`) and, within one folder, the extension
    (`clip.mp4`, `clip.mov` -> `clip_mp4`, `clip_mov`); what is still equal (the same file twice)
    gets `_2`, `_3` ... in input order."""
    paths = [Path(os.path.abspath(v)) for v in videos]
    stems = [p.stem for p in paths]
    labels = list(stems)
    for stem in {s for s in stems if stems.count(s) > 1}:
        group = [p for p in paths if p.stem == stem]
        folders = _folder_names([p.parent for p in group])
        for i in (i for i, s in enumerate(stems) if s == stem):
            labels[i] = _label(paths[i], group, folders)
    return _numbered(labels)


def _folder_names(folders: list[Path]) -> dict[Path, str]:
    """The fewest trailing folder names (joined by `_`) that tell these folders apart."""
    parts = {f: f.parts[1:] for f in folders}
    for k in range(1, max(len(p) for p in parts.values()) + 1):
        names = {f: "_".join(p[-k:]) for f, p in parts.items()}
        if len(set(names.values())) == len(names):
            return names
    return {f: "_".join(p) for f, p in parts.items()}


def _label(path: Path, group: list[Path], folders: dict[Path, str]) -> str:
    label = path.stem
    if path.suffix and any(p.parent == path.parent and p.name != path.name for p in group):
        label = f"{label}_{path.suffix[1:]}"
    if len(folders) > 1 and folders[path.parent]:
        label = f"{folders[path.parent]}_{label}"
    return label


def _numbered(labels: list[str]) -> list[str]:
    taken, out = set(labels), []
    for label in labels:
        name, n = label, 1
        while name in out or (name != label and name in taken):
            n += 1
            name = f"{label}_{n}"
        out.append(name)
    return out


def per_file(template: Path, label: str) -> Path:
    return template.with_name(f"{template.stem}_{label}{template.suffix}")
