"""EmoDB (Berlin Database of Emotional Speech): a folder of `SSTTTEV.flac` (or `.wav`; the release's
`wav/` folder is looked into), 16 kHz German speech, audio only.

Names: `SS` speaker (03, 08, ..., 16), `TTT` sentence (a01 ... b10), `E` emotion (a German initial),
`V` version (a, b, c ...). Genders are the corpus README's: male 03, 10, 11, 12, 15; female 08, 09,
13, 14, 16. Classes in RAVDESS's names and order, then boredom (which RAVDESS lacks): W (Wut) angry,
L (Langeweile) boredom, E (Ekel) disgust, A (Angst) fearful, F (Freude) happy, T (Trauer) sad,
N neutral.

Protocol: 5 folds of 2 speakers, one male and one female each (the usual speaker-independent EmoDB
split), 2 validation speakers (one of each) from the other 8. Actor ids 1..10 put each pair next to
each other (make_folds takes consecutive ids): 03+08, 10+09, 11+13, 12+14, 15+16; the speaker codes
stay the speakers' names.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Extent, Scan, register_dataset
from avemotion.errors import InputError

NAME = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])$")
EXTENSIONS = (".flac", ".wav")
LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom")
CODES = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
MALE = ("03", "10", "11", "12", "15")
FEMALE = ("08", "09", "13", "14", "16")
# one male and one female speaker per test fold: actor id -> speaker code
SPEAKERS = {i + 1: code for i, code in enumerate(c for pair in zip(MALE, FEMALE) for c in pair)}
ACTORS = {code: actor for actor, code in SPEAKERS.items()}
CLIPS = 535
PROTOCOL = {"n_folds": 5, "n_val": 2, "name": "5 folds of 2 speakers (one male, one female)"}


def parse_name(path: str | Path) -> dict:
    """The fields of an EmoDB name; InputError(bad_name) for any other name or an unknown speaker."""
    path = Path(path)
    m = NAME.match(path.stem)
    if not m:
        raise InputError(path, "bad_name", "EmoDB names are SSTTTEV, e.g. 03a01Wa.flac (speaker, sentence, "
                                           "emotion W L E A F T N, version)")
    speaker, sentence, emotion, version = m.groups()
    if speaker not in ACTORS:
        raise InputError(path, "bad_name", f"unknown EmoDB speaker {speaker!r} ({', '.join(sorted(ACTORS))})")
    return {"speaker": speaker, "statement": sentence, "emotion": CODES[emotion], "repetition": ord(version) - 96}


def audio_folder(root: Path) -> Path:
    """The folder holding the files: `root` itself or the release's `wav/`."""
    return root / "wav" if (root / "wav").is_dir() else root


@register_dataset("emodb")
class EmoDB:
    @staticmethod
    def detect(root: Path) -> bool:
        folder = audio_folder(root)
        return any(NAME.match(p.stem) for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS)

    def scan(self, root: Path) -> Scan:
        scan = Scan(labels=LABELS, modalities=("audio",), protocol=dict(PROTOCOL), speakers=dict(SPEAKERS))
        for path in sorted(p for p in audio_folder(root).iterdir() if p.suffix.lower() in EXTENSIONS):
            try:
                v = parse_name(path)
            except InputError as err:
                scan.errors.append(err)
                continue
            scan.records.append(ClipRecord(
                clip_id=path.stem, path=path, dataset="emodb", label=LABELS.index(v["emotion"]), emotion=v["emotion"],
                actor=ACTORS[v["speaker"]], gender=gender_of(v["speaker"]), statement=v["statement"],
                repetition=v["repetition"], speaker=v["speaker"],
            ))
        genders = {actor: gender_of(code) for actor, code in SPEAKERS.items()}
        scan.extent = Extent(genders, CLIPS, f"EmoDB: 10 speakers, {CLIPS} utterances")
        return scan


def gender_of(speaker: str) -> str:
    return "male" if speaker in MALE else "female"
