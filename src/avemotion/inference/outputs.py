"""Writers for prediction results: rich table, JSON document, CSV rows."""

from __future__ import annotations

import csv
import io
import json

from rich.markup import escape  # file names like "take[1].mp4" are not markup

from avemotion import EMOTIONS
from avemotion.inference.results import FileError, Prediction, Result, Timeline

CSV_COLUMNS = ("file", "kind", "start", "end", "label", "emotion", "probability", "modalities", *EMOTIONS, "error_reason", "error_detail")


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
        **{name: f"{p.probabilities[name]:.6f}" for name in EMOTIONS},
    }


def to_csv(results: list[Result]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
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
