"""RAVDESS: `Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4`, landmark CSVs flat in `landmarks/` or per actor.

Extensions are matched in any case (`.MP4`, `.CSV`). Two corpora share the naming: the audio-video speech clips (modality 01, `.mp4`, what CFN-SR uses)
and the audio-only speech files (modality 03, `.wav` as released or `.flac`: the same 1440
performances). A folder holding audio-video speech clips is an audio-video corpus (audio-only files
beside them are counted and left out); a folder holding only audio-only files is an audio-only corpus.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemotion import EMOTIONS
from avemotion.data.datasets import ClipRecord, Extent, Scan, register_dataset
from avemotion.errors import InputError

ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
VIDEO_EXTENSIONS = (".mp4",)
AUDIO_EXTENSIONS = (".wav", ".flac")
MODALITY_FILES = {1: VIDEO_EXTENSIONS, 2: VIDEO_EXTENSIONS, 3: AUDIO_EXTENSIONS}  # name field 1 -> file kinds
ACTORS = 24
CLIPS_PER_ACTOR = 60  # speech: 8 emotions (neutral at one intensity) x 2 statements x 2 repetitions
FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
# Allowed values per field (RAVDESS README): modality 01 AV / 02 video-only / 03 audio-only,
# vocal channel 01 speech / 02 song, 8 emotions, intensity 01/02, statement 01/02, repetition 01/02.
RANGES = {"modality": (1, 3), "vocal_channel": (1, 2), "emotion": (1, 8), "intensity": (1, 2),
          "statement": (1, 2), "repetition": (1, 2), "actor": (1, ACTORS)}


def parse_name(path: str | Path) -> dict:
    """Parse a RAVDESS file name into its seven typed fields; InputError(bad_name) if malformed."""
    path = Path(path)
    parts = path.stem.split("-")
    if len(parts) != 7 or not all(re.fullmatch(r"\d{2}", p) for p in parts):
        raise InputError(path, "bad_name", "RAVDESS names are 7 two-digit fields, e.g. 01-01-03-02-01-01-12.mp4")
    values = dict(zip(FIELDS, (int(p) for p in parts)))
    for name, (lo, hi) in RANGES.items():
        if not lo <= values[name] <= hi:
            raise InputError(path, "bad_name", f"RAVDESS field {name}={values[name]:02d} outside {lo:02d}..{hi:02d}")
    if values["emotion"] == 1 and values["intensity"] == 2:
        raise InputError(path, "bad_name", "RAVDESS neutral has no strong intensity (field 4 must be 01)")
    return values


def gender_of(actor: int) -> str:
    return "male" if actor % 2 == 1 else "female"


def find_landmarks(root: Path, actor_dir: Path, stem: str) -> Path | None:
    """Official tracking CSVs share the video's stem; the video-only duplicate (02-...) has the same frames."""
    stems = [stem, "02" + stem[2:]] if stem.startswith("01") else [stem]
    for s in stems:
        for folder in (root / "landmarks", root / "landmarks" / actor_dir.name, actor_dir):
            for candidate in (folder / f"{s}.csv", folder / f"{s}.CSV"):
                if candidate.is_file():
                    return candidate
    return None


@register_dataset("ravdess")
class Ravdess:
    @staticmethod
    def detect(root: Path) -> bool:
        return any(ACTOR_DIR.match(p.name) and p.is_dir() for p in root.iterdir())

    def scan(self, root: Path) -> Scan:
        scan = Scan()
        audio_only: list[ClipRecord] = []
        for actor_dir in sorted(p for p in root.iterdir() if p.is_dir() and ACTOR_DIR.match(p.name)):
            try:
                files = sorted(p for p in actor_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
            except OSError as err:
                scan.errors.append(InputError(actor_dir, "unreadable", f"cannot list the folder ({err.strerror or err})"))
                continue
            for path in files:
                try:
                    record = self.record(root, actor_dir, path)
                except InputError as err:
                    scan.errors.append(err)
                    continue
                if record is not None:
                    (audio_only if record.modality == 3 else scan.records).append(record)
        if scan.records:
            if audio_only:
                scan.notes.append(f"{len(audio_only)} audio-only files (03-*) left out: this is an audio-video "
                                  "corpus (prepare the audio-only files from a folder of their own)")
        else:
            scan.records, scan.modalities = audio_only, ("audio",)
        kind = "audio-only" if scan.modalities == ("audio",) else "audio-video"
        scan.extent = Extent({a: gender_of(a) for a in range(1, ACTORS + 1)}, ACTORS * CLIPS_PER_ACTOR,
                             f"RAVDESS: {ACTORS} actors x {CLIPS_PER_ACTOR} {kind} speech clips")
        return scan

    def record(self, root: Path, actor_dir: Path, path: Path) -> ClipRecord | None:
        v = parse_name(path)
        if v["actor"] != int(ACTOR_DIR.match(actor_dir.name).group(1)):
            raise InputError(path, "bad_name", f"actor field {v['actor']:02d} does not match folder {actor_dir.name}")
        if path.suffix.lower() not in MODALITY_FILES[v["modality"]]:
            kind = "an audio file" if path.suffix.lower() in AUDIO_EXTENSIONS else "a video file"
            raise InputError(path, "bad_name", f"modality field {v['modality']:02d} does not fit {kind} ({path.suffix})")
        # Only speech: 02-* are video-only duplicates, ??-02-* is song (SPEC 1).
        if v["modality"] == 2 or v["vocal_channel"] != 1:
            return None
        return ClipRecord(
            clip_id=path.stem, path=path, dataset="ravdess", label=v["emotion"] - 1,
            emotion=EMOTIONS[v["emotion"] - 1], actor=v["actor"], gender=gender_of(v["actor"]),
            intensity=v["intensity"], statement=v["statement"], repetition=v["repetition"],
            modality=v["modality"], vocal_channel=v["vocal_channel"],
            landmarks=find_landmarks(root, actor_dir, path.stem) if v["modality"] == 1 else None,
        )
