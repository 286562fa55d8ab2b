"""CREMA-D: `ACTOR_SENTENCE_EMOTION_LEVEL.flv` (e.g. 1001_DFA_ANG_XX.flv), no landmarks.

Actor genders live in CREMA-D's `VideoDemographics.csv` (columns ActorID, Sex, ...). It is read from
the corpus folder or from `demographics=PATH`; without it the gender is "unknown" (never guessed).
Emotion level LO/MD/HI maps to intensity 1/2/3; XX (unspecified) to None. Labels: CREMA-D's own 6
classes (LABELS), not RAVDESS's 8.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Extent, Scan, register_dataset
from avemotion.errors import InputError

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
# CREMA-D's own 6 classes, named as RAVDESS names them and in RAVDESS's order, so that a run trained
# on one scores the other by name (data/labels.py label_map).
LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
CODES = {"NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "angry", "FEA": "fearful", "DIS": "disgust"}
EMOTION_LABELS = {code: (LABELS.index(name), name) for code, name in CODES.items()}
LEVELS = {"LO": 1, "MD": 2, "HI": 3, "XX": None}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
EXTENSIONS = (".flv", ".mp4")


def parse_name(path: str | Path) -> dict:
    path = Path(path)
    m = NAME.match(path.stem)
    if not m:
        raise InputError(path, "bad_name", "CREMA-D names are ACTOR_SENTENCE_EMOTION_LEVEL, e.g. 1001_DFA_ANG_XX.flv")
    actor, sentence, emotion, level = m.groups()
    if emotion not in EMOTION_LABELS:
        raise InputError(path, "bad_name", f"unknown CREMA-D emotion {emotion!r} (ANG DIS FEA HAP NEU SAD)")
    if level not in LEVELS:
        raise InputError(path, "bad_name", f"unknown CREMA-D level {level!r} (LO MD HI XX)")
    if sentence not in SENTENCES:
        raise InputError(path, "bad_name", f"unknown CREMA-D sentence {sentence!r}")
    return {"actor": int(actor), "statement": sentence, "emotion": emotion, "intensity": LEVELS[level]}


def read_demographics(path: Path) -> dict[int, str]:
    """ActorID -> "male"/"female" from VideoDemographics.csv."""
    genders = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            sex = (row.get("Sex") or "").strip().lower()
            if sex in ("male", "female"):
                genders[int(row["ActorID"])] = sex
    return genders


@register_dataset("crema-d")
class CremaD:
    def __init__(self, demographics: str | Path | None = None):
        self.demographics = Path(demographics) if demographics else None

    @staticmethod
    def detect(root: Path) -> bool:
        return any(NAME.match(p.stem) for p in root.iterdir() if p.suffix.lower() in EXTENSIONS)

    def scan(self, root: Path) -> Scan:
        genders = self.genders(root)
        scan = Scan(labels=LABELS)
        for path in sorted(p for p in root.iterdir() if p.suffix.lower() in EXTENSIONS):
            try:
                v = parse_name(path)
            except InputError as err:
                scan.errors.append(err)
                continue
            label, emotion = EMOTION_LABELS[v["emotion"]]
            scan.records.append(ClipRecord(
                clip_id=path.stem, path=path, dataset="crema-d", label=label, emotion=emotion,
                actor=v["actor"], gender=genders.get(v["actor"], "unknown"), intensity=v["intensity"],
                statement=v["statement"],
            ))
        # the released corpus: actors 1001-1091, 7442 clips (genders from the demographics file)
        scan.extent = Extent({a: genders.get(a, "unknown") for a in range(1001, 1092)}, 7442, "CREMA-D: 91 actors, 7442 clips")
        return scan

    def genders(self, root: Path) -> dict[int, str]:
        path = self.demographics or root / "VideoDemographics.csv"
        return read_demographics(path) if path.is_file() else {}
