"""CREMA-D: `ACTOR_SENTENCE_EMOTION_LEVEL.flv` (e.g. 1001_DFA_ANG_XX.flv), no landmarks.

Actor genders live in CREMA-D's `VideoDemographics.csv` (columns ActorID, Sex, ...). It is read from
the corpus folder or from `demographics=PATH`; without it the gender is "unknown" (never guessed).
Emotion level LO/MD/HI maps to intensity 1/2/3; XX (unspecified) to None.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Scan, register_dataset
from avemotion.errors import InputError

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
EMOTION_LABELS = {"NEU": (0, "neutral"), "HAP": (2, "happy"), "SAD": (3, "sad"),
                  "ANG": (4, "angry"), "FEA": (5, "fearful"), "DIS": (6, "disgust")}
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
        scan = Scan()
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
        return scan

    def genders(self, root: Path) -> dict[int, str]:
        path = self.demographics or root / "VideoDemographics.csv"
        return read_demographics(path) if path.is_file() else {}
