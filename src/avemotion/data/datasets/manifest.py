"""Any labelled corpus from a manifest CSV: one row per clip (`prepare --manifest corpus.csv`).

Columns (header names, any order, spaces around names ignored):
    path       the media file, relative to the CSV's folder (or absolute)          required
    label      the class name (any text)                                          required
    speaker    the speaker (the group folds keep apart)                           required
    start, end seconds: the clip is this span of a longer file (both or neither)  optional
    gender     male / female (m / f); anything else or empty: unknown             optional
    landmarks  an OpenFace-style CSV of the clip's frames, relative to the CSV    optional
    id         the clip id (default: the file's stem, plus _START-END for a span) optional

Labels are read as the project's class names where they are another word for one (labels.SYNONYMS,
case-insensitive: anger -> angry, happiness -> happy, ...; noted in the prepare summary), in the
rows and in `labels=` alike. Class names = the sorted distinct labels, unless `labels=`
(`--labels a,b,c`) fixes them and their order. Speakers get stable integer ids 1..N in sorted
name order (folds work on integer actor ids); the names are kept (`Scan.speakers`, recorded in
the cache). A corpus of audio files only (wav, flac, mp3, ...) is audio-only, like the RAVDESS
speech set; in a corpus with video files an audio file's row is `not_video`. Every bad row is
reported with its line and the others go on.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Scan, register_dataset
from avemotion.data.labels import check_labels, renamed_note, shared_name
from avemotion.errors import ConfigError, InputError

REQUIRED = ("path", "label", "speaker")
OPTIONAL = ("start", "end", "gender", "landmarks", "id")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff", ".aif")
GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female"}


def _seconds(text: str, column: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{column} {text!r} must be a finite number of seconds >= 0")
    return value


def read_rows(csv_path: Path) -> tuple[list[tuple[int, dict]], list[InputError]]:
    """(line number, row) for every row; ConfigError for a manifest that cannot be used at all (not
    readable, no header, a required column missing, a column it does not know)."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{csv_path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{csv_path}: cannot read the manifest ({getattr(err, 'strerror', None) or err})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise ConfigError(f"{csv_path}: empty manifest (expected a header: {', '.join(REQUIRED)}[, {', '.join(OPTIONAL)}])")
    names = [h.strip().lower() for h in header]
    unknown = [h for h in names if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise ConfigError(f"{csv_path}: unknown column {unknown[0]!r} (columns: {', '.join(REQUIRED)}, optional "
                          f"{', '.join(OPTIONAL)})")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ConfigError(f"{csv_path}: no {missing[0]!r} column (required: {', '.join(REQUIRED)})")
    rows, errors = [], []
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue  # blank line
        where = f"{csv_path}:{line}"
        if len(values) != len(names):
            errors.append(InputError(where, "bad_row", f"{len(values)} values, the header names {len(names)} columns"))
            continue
        rows.append((line, {n: v.strip() for n, v in zip(names, values)}))
    return rows, errors


def rename_labels(rows: list[tuple[int, dict]]) -> Counter:
    """Each row's label as the project's class name (labels.shared_name), in place; returns the
    rows renamed per 'old -> new'."""
    renamed: Counter = Counter()
    for _, row in rows:
        name = shared_name(row["label"]) if row["label"] else ""
        if name != row["label"]:
            renamed[f"{row['label']} -> {name}"] += 1
            row["label"] = name
    return renamed


@register_dataset("manifest")
class Manifest:
    def __init__(self, labels=None):
        self.labels = check_labels([shared_name(n) for n in labels], "--labels") if labels else None

    @staticmethod
    def detect(root: Path) -> bool:
        return root.is_file() and root.suffix.lower() == ".csv"

    def scan(self, root: Path) -> Scan:
        csv_path = Path(root)
        base = csv_path.parent
        rows, errors = read_rows(csv_path)
        renamed = rename_labels(rows)
        speakers = sorted({r["speaker"] for _, r in rows if r["speaker"]})
        ids = {name: k for k, name in enumerate(speakers, start=1)}  # stable: sorted names
        labels = self.labels or tuple(sorted({r["label"] for _, r in rows if r["label"]}))
        video = any(Path(r["path"]).suffix.lower() not in AUDIO_EXTENSIONS for _, r in rows if r["path"])
        genders: dict[str, str] = {}  # speaker -> the gender its rows state (first one wins)
        for _, r in rows:
            g = GENDERS.get(r.get("gender", "").lower())
            if g and r["speaker"]:
                genders.setdefault(r["speaker"], g)
        records, seen = [], {}
        for line, row in rows:
            where = f"{csv_path}:{line}"
            try:
                record = self.record(base, row, labels, ids, genders, video)
            except InputError as err:
                errors.append(InputError(where, "bad_row", err.detail) if err.code == "bad_row"
                              else InputError(err.path, err.code, f"{err.detail} ({csv_path.name} line {line})"))
                continue
            if record.clip_id in seen:
                errors.append(InputError(where, "bad_row", f"clip id {record.clip_id!r} already used on line "
                                                           f"{seen[record.clip_id]} (give the rows an id column)"))
                continue
            seen[record.clip_id] = line
            records.append(record)
        scan = Scan(records=records, errors=errors, labels=check_labels(labels, f"{csv_path} labels"),
                    speakers={k: name for name, k in ids.items()})
        scan.modalities = ("video", "audio") if video else ("audio",)
        if renamed:
            scan.notes.append(renamed_note(renamed))
        return scan

    def record(self, base: Path, row: dict, labels, ids, genders, video: bool) -> ClipRecord:
        def bad(detail: str) -> InputError:
            return InputError("row", "bad_row", detail)

        if not row["path"]:
            raise bad("empty path")
        path = Path(row["path"])
        path = path if path.is_absolute() else base / path
        label, speaker = row["label"], row["speaker"]
        if not label:
            raise bad(f"{row['path']}: empty label")
        if label not in labels:
            raise bad(f"{row['path']}: label {label!r} is not among --labels ({', '.join(labels)})")
        if not speaker:
            raise bad(f"{row['path']}: empty speaker")
        try:
            start, end = _seconds(row.get("start", ""), "start"), _seconds(row.get("end", ""), "end")
        except ValueError as err:
            raise bad(f"{row['path']}: {err}") from None
        if (start is None) != (end is None):
            raise bad(f"{row['path']}: give both start and end (seconds) for a segment, or neither")
        if start is not None and end <= start:
            raise bad(f"{row['path']}: end {end:g} s is not after start {start:g} s")
        stated = GENDERS.get(row.get("gender", "").lower())
        if stated and genders[speaker] != stated:
            raise bad(f"{row['path']}: speaker {speaker!r} is {genders[speaker]} on an earlier row, {stated} here")
        gender = genders.get(speaker, "unknown")
        if not path.is_file():
            raise InputError(path, "unreadable", "file not found" if not path.exists() else "not a file")
        if video and path.suffix.lower() in AUDIO_EXTENSIONS:
            raise InputError(path, "not_video", "an audio file in a corpus of videos (prepare audio files from a "
                                                "manifest of their own)")
        landmarks = None
        if row.get("landmarks"):
            landmarks = Path(row["landmarks"])
            landmarks = landmarks if landmarks.is_absolute() else base / landmarks
            if not landmarks.is_file():
                raise InputError(landmarks, "bad_landmarks", f"landmark CSV of {row['path']} not found")
        clip_id = row.get("id") or (path.stem if start is None else f"{path.stem}_{start:.2f}-{end:.2f}")
        if "/" in clip_id or clip_id.startswith("."):
            raise bad(f"{row['path']}: clip id {clip_id!r} may not contain '/' or start with '.'")
        return ClipRecord(clip_id=clip_id, path=path, dataset="manifest", label=labels.index(label), emotion=label,
                          actor=ids[speaker], gender=gender, landmarks=landmarks, start=start, end=end,
                          speaker=speaker, modality=None)
