"""IEMOCAP (the official `IEMOCAP_full_release`): one clip per annotated utterance (docs/data.md).

Files read, per session `SessionN/` (N = 1..5):
    dialog/EmoEvaluation/<dialog>.txt     utterance lines `[START - END]\\tTURN\\tEMOTION\\t[V, A, D]`
                                          (the annotators' lines below each are not read)
    sentences/wav/<dialog>/<turn>.wav     the utterance's audio (the clip's audio, read whole)
    dialog/avi/DivX/<dialog>.avi          the dialogue video; the clip is its span [START, END]
Nothing else (MOCAP, transcriptions, the dialogue wavs) is read. Without any `dialog/avi/DivX`
folder the corpus is audio-only (the utterance wavs).

Turn names: `Ses01F_impro01_M003` = session 01, dialogue `Ses01F_impro01` (F: the female actor
wore the motion-capture markers), speaker M (the letter before the 3-character index). Speakers are
the 10 actors `Ses01F`, `Ses01M`, ..., `Ses05M` with actor ids 1..10 in that order, so 5 folds of
consecutive actors are the 5 sessions (leave one session out).

The dialogue video shows both actors side by side; the speaker's face is taken from the half where
that actor sits: `left="female"` (default) or `"male"` says who sits on the left, for every session
or per session (`"Session3=male,Session5=male"`; unnamed sessions keep the default female). The
release documents no such rule, so check a frame of your copy (docs/data.md).

Class mappings (`classes=`): "4" (the standard setting: neutral, happy = hap + exc, sad, angry;
5531 utterances in the release), "4-noexc" (hap only: 4490), "6" (+ excited, frustrated: 7380),
"all" (every label but xxx, no agreement). Utterances of other classes are left out, counted in a note.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from avemotion.data.datasets import ClipRecord, Extent, Scan, register_dataset
from avemotion.errors import ConfigError, InputError

RELEASE = "IEMOCAP_full_release"
SESSIONS = 5
SESSION_DIR = re.compile(r"^Session([1-5])$")
LINE = re.compile(r"^\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s*$")
TURN = re.compile(r"^(Ses(0[1-5])[FM]_\w+?)_([FM])(\w{3})$")
CODES = {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "angry", "fru": "frustrated",
         "sur": "surprised", "fea": "fearful", "dis": "disgust", "oth": "other"}
# mapping name -> (class names in label order, code -> class name)
MAPPINGS = {
    "4": (("neutral", "happy", "sad", "angry"), {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}),
    "4-noexc": (("neutral", "happy", "sad", "angry"), {"neu": "neutral", "hap": "happy", "sad": "sad", "ang": "angry"}),
    "6": (("neutral", "happy", "sad", "angry", "excited", "frustrated"),
          {c: CODES[c] for c in ("neu", "hap", "sad", "ang", "exc", "fru")}),
    "all": (tuple(CODES.values()), dict(CODES)),
}
RELEASE_CLIPS = {"4": 5531, "4-noexc": 4490, "6": 7380}  # utterances of the release per mapping
# The protocol papers report on IEMOCAP: 5 folds, each testing one session (actor ids are
# consecutive per session, so 5 consecutive groups are the sessions), and 2 validation actors (one
# female, one male: make_folds balances genders) drawn from the training sessions.
PROTOCOL = {"n_folds": SESSIONS, "n_val": 2, "name": "leave one session out"}


def speaker_id(session: int, gender: str) -> int:
    """Ses01F -> 1, Ses01M -> 2, ..., Ses05M -> 10."""
    return 2 * (session - 1) + (1 if gender == "F" else 2)


def speaker_name(session: int, gender: str) -> str:
    return f"Ses{session:02d}{gender}"


def parse_left(value: str | None) -> dict[int, str]:
    """Session -> gender on the left of the dialogue video ("female" unless said otherwise)."""
    left = {s: "female" for s in range(1, SESSIONS + 1)}
    if not value:
        return left
    for part in value.split(","):
        part = part.strip().lower()
        where, _, who = part.rpartition("=")
        if who not in ("female", "male"):
            raise ConfigError(f"--iemocap-left {value!r}: say 'female' or 'male' (for all sessions, or per session: "
                              "Session3=male)")
        if not where:
            left = {s: who for s in left}
            continue
        m = re.fullmatch(r"(?:session)?([1-5])", where)
        if not m:
            raise ConfigError(f"--iemocap-left {value!r}: unknown session {where!r} (Session1..Session5)")
        left[int(m.group(1))] = who
    return left


def parse_turn(name: str) -> tuple[str, int, str]:
    """(dialogue id, session, speaker gender 'F'/'M') of a turn name; ValueError if it is not one."""
    m = TURN.match(name)
    if not m:
        raise ValueError(f"turn name {name!r} is not like Ses01F_impro01_M003")
    return m.group(1), int(m.group(2)), m.group(3)


def release_root(root: Path) -> Path:
    """The folder holding Session1..5: `root` itself or its IEMOCAP_full_release/."""
    return root / RELEASE if (root / RELEASE).is_dir() else root


@register_dataset("iemocap")
class Iemocap:
    def __init__(self, classes: str = "4", left: str | None = None):
        if classes not in MAPPINGS:
            raise ConfigError(f"IEMOCAP classes {classes!r}: one of {', '.join(MAPPINGS)}")
        self.classes = classes
        self.labels, self.mapping = MAPPINGS[classes]
        self.left = parse_left(left)

    @staticmethod
    def detect(root: Path) -> bool:
        base = release_root(root)
        return base.is_dir() and any(SESSION_DIR.match(p.name) and (p / "dialog" / "EmoEvaluation").is_dir()
                                     for p in base.iterdir())

    def scan(self, root: Path) -> Scan:
        base = release_root(root)
        scan = Scan(labels=self.labels)
        sessions = sorted((int(SESSION_DIR.match(p.name).group(1)), p) for p in base.iterdir()
                          if p.is_dir() and SESSION_DIR.match(p.name))
        if not sessions:
            raise InputError(root, "bad_name", f"no Session1..{SESSIONS} folders (the {RELEASE} layout)")
        video = any((p / "dialog" / "avi" / "DivX").is_dir() for _, p in sessions)
        left_out: Counter = Counter()
        for session, folder in sessions:
            evaluations = folder / "dialog" / "EmoEvaluation"
            try:
                files = sorted(p for p in evaluations.iterdir() if p.is_file() and p.suffix == ".txt")
            except OSError as err:
                scan.errors.append(InputError(evaluations, "unreadable", f"cannot list the folder ({err.strerror or err})"))
                continue
            for txt in files:
                self._dialogue(folder, session, txt, video, scan, left_out)
        if left_out:
            scan.notes.append(f"{sum(left_out.values())} utterances of classes outside the '{self.classes}' mapping "
                              f"left out ({', '.join(f'{c} {n}' for c, n in sorted(left_out.items()))})")
        scan.modalities = ("video", "audio") if video else ("audio",)
        scan.protocol = dict(PROTOCOL)
        scan.speakers = {speaker_id(s, g): speaker_name(s, g) for s in range(1, SESSIONS + 1) for g in "FM"}
        genders = {speaker_id(s, g): ("female" if g == "F" else "male") for s in range(1, SESSIONS + 1) for g in "FM"}
        if self.classes in RELEASE_CLIPS:
            scan.extent = Extent(genders, RELEASE_CLIPS[self.classes],
                                 f"IEMOCAP: 10 actors, {RELEASE_CLIPS[self.classes]} utterances ({self.classes} classes)")
        return scan

    def _dialogue(self, folder: Path, session: int, txt: Path, video: bool, scan: Scan, left_out: Counter) -> None:
        try:
            lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as err:
            scan.errors.append(InputError(txt, "unreadable", f"cannot read ({err.strerror or err})"))
            return
        avi = folder / "dialog" / "avi" / "DivX" / f"{txt.stem}.avi"
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.startswith("["):
                continue  # the header, annotator lines (C-E2:, A-F1:), blank lines
            where = f"{txt}:{number}"
            m = LINE.match(line)
            if not m:
                scan.errors.append(InputError(where, "bad_row", "not an utterance line `[START - END]\\tTURN\\tEMOTION\\t[V, A, D]`"))
                continue
            start, end, turn, code = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
            try:
                dialogue, turn_session, gender = parse_turn(turn)
            except ValueError as err:
                scan.errors.append(InputError(where, "bad_row", str(err)))
                continue
            if dialogue != txt.stem or turn_session != session:
                scan.errors.append(InputError(where, "bad_row", f"turn {turn} does not belong to {txt.stem} (Session{session})"))
                continue
            if end <= start:
                scan.errors.append(InputError(where, "bad_row", f"{turn}: end {end:g} s is not after start {start:g} s"))
                continue
            if code not in self.mapping:
                left_out[code] += 1
                continue
            wav = folder / "sentences" / "wav" / dialogue / f"{turn}.wav"
            if not wav.is_file():
                scan.errors.append(InputError(wav, "unreadable", f"utterance audio of {turn} not found"))
                continue
            name = self.mapping[code]
            sex = "female" if gender == "F" else "male"
            records.append(ClipRecord(
                clip_id=turn, path=avi if video else wav, dataset="iemocap", label=self.labels.index(name),
                emotion=name, actor=speaker_id(session, gender), gender=sex, statement=dialogue,
                start=start if video else None, end=end if video else None, audio_path=wav if video else None,
                speaker=speaker_name(session, gender), face=("left" if self.left[session] == sex else "right") if video else None,
            ))
        if video and records and not avi.is_file():
            scan.errors.append(InputError(avi, "unreadable", f"dialogue video not found ({len(records)} utterances left out)"))
            return
        scan.records.extend(records)
