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
from avemotion.errors import ConfigError
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


def check_targets(targets: list[tuple[str, Path]], inputs: list[Path], overwrite: bool, run: Path | None = None) -> None:
    """ConfigError (one line) unless every (option, path) output is distinct, none is an input
    (nor a file of the run folder), each can be written, and none exists unless `overwrite`."""
    _check_distinct(targets)
    for option, path in targets:
        if _is_input(path, inputs, run):
            raise ConfigError(f"{option} {path} is an input file; predict never writes over its inputs")
        _check_writable(option, path)
    existing = [str(path) for _, path in targets if os.path.lexists(path)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more outputs already exist" if len(existing) > 1 else " already exists"
        raise ConfigError(f"{existing[0]}{more} (--overwrite replaces {'them' if len(existing) > 1 else 'it'})")


def _check_distinct(targets: list[tuple[str, Path]]) -> None:
    seen: dict[Path, str] = {}
    for option, path in targets:
        key = Path(path).resolve()
        if key in seen:
            raise ConfigError(f"{seen[key]} and {option} {path} would write the same file")
        seen[key] = f"{option} {path}"


def _is_input(path: Path, inputs: list[Path], run: Path | None) -> bool:
    path = Path(path)
    if run is not None and _in_run(path, Path(run)):
        return True
    for source in inputs:
        if path.resolve() == Path(source).resolve():
            return True
        if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):  # a hard link
            return True
    return False


def _in_run(path: Path, run: Path) -> bool:
    """Whether `path` is a file the run is read from: run.json or anything under fold_K/."""
    if not os.path.exists(path) or not path.resolve().is_relative_to(run.resolve()):
        return False
    rel = path.resolve().relative_to(run.resolve())
    return rel == Path("run.json") or rel.parts[0].startswith("fold_")


def _check_writable(option: str, path: Path) -> None:
    path = Path(path)
    # the atomic rename would replace a link itself (/dev/stdout!), and cannot replace a folder or a device
    # (os.path's tests, unlike Path's, answer False instead of raising where a folder denies access)
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
        hint = " (omit -o to write to stdout)" if option == "--output" else ""
        kind = "a symbolic link" if os.path.islink(path) else "not a regular file"
        raise ConfigError(f"{option} {path}: exists and is {kind}; predict only replaces regular files{hint}")
    folder = next(p for p in Path(os.path.abspath(path)).parents if os.path.exists(p))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot create files in {folder}")
