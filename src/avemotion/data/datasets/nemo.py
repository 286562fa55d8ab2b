"""nEMO (emotional speech in Polish): a folder with `labels.csv` (columns path, label, speaker,
gender, age, text) and `audio/SPK_emotion_N.opus` (or the release's wav), audio only.

Classes in RAVDESS's names and order: neutral, happiness -> happy, sadness -> sad, anger -> angry,
fear -> fearful, surprised. Speakers: the 9 actors' codes (EB0, IC0, KD0, MK0 female; KS0, MP0, SM0,
TP0, WR0 male: the README's list, which labels.csv agrees with), actor ids 1..9 in sorted code order.

Protocol: leave one speaker out (9 folds), 2 validation speakers (one of each gender) from the
other 8: with 9 speakers every fold keeps 6 to train on.
"""

from __future__ import annotations

import csv
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Extent, Scan, register_dataset
from avemotion.errors import InputError

LABELS = ("neutral", "happy", "sad", "angry", "fearful", "surprised")
CODES = {"neutral": "neutral", "happiness": "happy", "sadness": "sad", "anger": "angry", "fear": "fearful",
         "surprised": "surprised"}
COLUMNS = ("path", "label", "speaker", "gender")
SPEAKERS = {"EB0": "female", "IC0": "female", "KD0": "female", "MK0": "female", "KS0": "male", "MP0": "male",
            "SM0": "male", "TP0": "male", "WR0": "male"}
ACTORS = {code: k for k, code in enumerate(sorted(SPEAKERS), start=1)}
CLIPS = 4481
PROTOCOL = {"n_folds": 9, "n_val": 2, "name": "leave one speaker out"}


def first_row(path: Path) -> dict:
    """The first data row of a CSV by column name ({} when it cannot be read)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return next(csv.DictReader(f), None) or {}
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}


@register_dataset("nemo")
class Nemo:
    @staticmethod
    def detect(root: Path) -> bool:
        # nEMO's columns and one of its speakers: another corpus laid out alike is a manifest's job
        csv_path = root / "labels.csv"
        if not ((root / "audio").is_dir() and csv_path.is_file()):
            return False
        row = first_row(csv_path)
        return all(c in row for c in COLUMNS) and (row.get("speaker") or "").strip() in SPEAKERS

    def scan(self, root: Path) -> Scan:
        csv_path = root / "labels.csv"
        scan = Scan(labels=LABELS, modalities=("audio",), protocol=dict(PROTOCOL),
                    speakers={k: code for code, k in ACTORS.items()})
        try:
            with open(csv_path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise InputError(csv_path, "unreadable", f"cannot read the labels ({getattr(err, 'strerror', None) or err})") from None
        for line, row in enumerate(rows, start=2):
            try:
                scan.records.append(self.record(root, row, f"{csv_path}:{line}"))
            except InputError as err:
                scan.errors.append(err)
        genders = {k: SPEAKERS[code] for code, k in ACTORS.items()}
        scan.extent = Extent(genders, CLIPS, f"nEMO: 9 speakers, {CLIPS} utterances")
        return scan

    @staticmethod
    def record(root: Path, row: dict, where: str) -> ClipRecord:
        path = root / (row.get("path") or "").strip()
        label, speaker = (row.get("label") or "").strip(), (row.get("speaker") or "").strip()
        if label not in CODES:
            raise InputError(where, "bad_row", f"unknown nEMO label {label!r} ({', '.join(CODES)})")
        if speaker not in ACTORS:
            raise InputError(where, "bad_row", f"unknown nEMO speaker {speaker!r} ({', '.join(sorted(ACTORS))})")
        if not path.is_file():
            raise InputError(path, "unreadable", f"file not found ({where})")
        name = CODES[label]
        return ClipRecord(clip_id=path.stem, path=path, dataset="nemo", label=LABELS.index(name), emotion=name,
                          actor=ACTORS[speaker], gender=SPEAKERS[speaker], statement=(row.get("text") or None),
                          speaker=speaker)
