"""The corpora `avemotion download` knows: where their files are, their licences, and the layout
`prepare` reads.

File lists, sizes and checksums come from the source's own metadata:
- RAVDESS: Zenodo's record API (`ZENODO/api/records/<id>`) gives each file's size and MD5.
- CREMA-D: the repository's `SentenceFilenames.csv` lists the 7442 clips; each clip's Git LFS
  pointer (`RAW/<folder>/<clip>`, about 130 bytes) gives its SHA-256 and size; the bytes come
  from the LFS media endpoint (`MEDIA/<folder>/<clip>`). Pointers are kept in DIR/.downloads so a
  rerun does not read them again.
- EmoDB: the original archive has no published checksum; its content is checked instead, every
  utterance's samples against the list kept in the package (emodb_samples.py).

Every base URL is a module-level name (tests and forks can point them elsewhere); `--mirror` or
AVEMOTION_MIRROR fetches every URL from MIRROR/<host>/<path> instead.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from avemotion.data.download.fetch import FetchError, Workers, get_bytes, resolve
from avemotion.errors import ConfigError

ZENODO = "https://zenodo.org"
RAVDESS_RECORD = "1188976"
RAVDESS_LANDMARKS_RECORD = "3255102"
CREMA_RAW = "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master"
CREMA_MEDIA = "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master"
EMODB_URL = "http://emodb.bilderbar.info/download/download.zip"
EMODB_NOMINAL_SIZE = 45 << 20  # for the free-space check only (the archive is about 40 MB)

# Published checksums kept in the package, checked against what the record says (a mirror's record
# that disagrees is refused for that file).
PINNED = {"Audio_Speech_Actors_01-24.zip": "md5:bc696df654c87fed845eb13823edef8a"}

DOWNLOADS = ".downloads"  # DIR/.downloads: archives, .part files, state.json


@dataclass(frozen=True)
class Corpus:
    name: str
    title: str
    licence: str
    licence_url: str
    terms: str
    citation: tuple[str, ...]
    source: str
    parts: dict[str, str]
    default_parts: tuple[str, ...]
    actors: tuple[int, int] | None  # the actor ids --actors may name


CORPORA = {
    "ravdess": Corpus(
        name="ravdess", title="RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song)",
        licence="CC BY-NC-SA 4.0", licence_url="https://creativecommons.org/licenses/by-nc-sa/4.0/",
        terms=("Non-commercial use only, with attribution; adaptations under the same licence. Anything derived "
               "from the files, a model trained on them included, inherits these terms."),
        citation=(
            "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech and Song "
            "(RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391",
            "Facial landmarks: Swanson R, Livingstone SR, Russo FA (2019). RAVDESS Facial Landmark Tracking. "
            "Zenodo. https://doi.org/10.5281/zenodo.3255102",
        ),
        source=f"Zenodo records {RAVDESS_RECORD} and {RAVDESS_LANDMARKS_RECORD}",
        parts={
            "video": "Video_Speech_Actor_XX.zip: the audio-video speech clips the paper uses (about 1 GB per actor) -> DIR/Actor_XX/",
            "landmarks": "FacialTracking_Actors_01-24.zip: OpenFace landmark CSVs of every clip -> DIR/landmarks/Actor_XX/",
            "audio": "Audio_Speech_Actors_01-24.zip: the speech as audio only (208 MB) -> DIR/audio-speech/Actor_XX/",
            "song-video": "Video_Song_Actor_XX.zip: song clips (not used by prepare) -> DIR/song/Actor_XX/",
            "song-audio": "Audio_Song_Actors_01-24.zip: song audio (not used by prepare) -> DIR/audio-song/Actor_XX/",
        },
        default_parts=("video", "landmarks"), actors=(1, 24),
    ),
    "crema-d": Corpus(
        name="crema-d", title="CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset)",
        licence="ODbL 1.0 (database) / DbCL 1.0 (contents)",
        licence_url="https://opendatacommons.org/licenses/odbl/1-0/",
        terms=("Open Database License: use, share and adapt with attribution; a public adapted database must be "
               "offered under the ODbL too. Individual contents under the Database Contents License."),
        citation=("Cao H, Cooper DG, Keutmann MK, Gur RC, Nenkova A, Verma R (2014). CREMA-D: Crowd-sourced "
                  "Emotional Multimodal Actors Dataset. IEEE Transactions on Affective Computing 5(4): 377-390.",),
        source="https://github.com/CheyneyComputerScience/CREMA-D (Git LFS)",
        parts={
            "video": "VideoFlash/*.flv: the audio-video clips (480x360, about 2 s each) -> DIR/",
            "audio": "AudioWAV/*.wav: the audio only -> DIR/audio/ (with manifest.csv for prepare --manifest)",
        },
        default_parts=("video",), actors=(1001, 1091),
    ),
    "emodb": Corpus(
        name="emodb", title="EmoDB (Berlin Database of Emotional Speech)",
        licence="CC0 1.0", licence_url="https://creativecommons.org/publicdomain/zero/1.0/",
        terms="Public domain dedication (as republished by audEERING); please cite the paper.",
        citation=("Burkhardt F, Paeschke A, Rolfes M, Sendlmeier W, Weiss B (2005). A database of German "
                  "emotional speech. Proc. Interspeech 2005, 1517-1520.",),
        source=EMODB_URL,
        parts={"audio": "download.zip: the original release (535 utterances, wav/) -> DIR/wav/ and the release's other folders"},
        default_parts=("audio",), actors=None,
    ),
}


def get_corpus(name: str) -> Corpus:
    key = name.lower().replace("_", "-")
    key = {"cremad": "crema-d", "emo-db": "emodb"}.get(key, key)
    if key not in CORPORA:
        raise ConfigError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    return CORPORA[key]


def parse_parts(corpus: Corpus, text: str | None) -> tuple[str, ...]:
    if not text:
        return corpus.default_parts
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    if names == ["all"]:
        return tuple(corpus.parts)
    unknown = [p for p in names if p not in corpus.parts]
    if unknown or not names:
        raise ConfigError(f"--parts {text}: {corpus.name} has the parts {', '.join(corpus.parts)} (or 'all')")
    return tuple(dict.fromkeys(names))


def parse_actors(corpus: Corpus, text: str | None) -> tuple[int, ...] | None:
    """'1-4,9' -> (1, 2, 3, 4, 9); None: every actor."""
    if not text:
        return None
    if corpus.actors is None:
        raise ConfigError(f"--actors: {corpus.name} is one archive of all speakers; it cannot be fetched by speaker")
    lo, hi = corpus.actors
    out: set[int] = set()
    for piece in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", piece)
        if not m:
            raise ConfigError(f"--actors {text}: expected ids and ranges such as 1-4,9")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a > b or a < lo or b > hi:
            raise ConfigError(f"--actors {text}: {corpus.name} actor ids are {lo}..{hi}")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


@dataclass
class Item:
    """One file to fetch: an archive to extract (layout) or a file kept as it is (dest)."""

    name: str  # shown in messages: the file's name at the source
    url: str  # at the source (a mirror maps it)
    dest: Path  # where the verified download lies (archives: DIR/.downloads/NAME)
    size: int | None
    checksum: str | None  # "md5:..." / "sha256:..."; None: checked by its content (EmoDB)
    part: str
    layout: str | None = None  # archives: the placement rule (extract_layout)
    actors: tuple[int, ...] | None = None  # archives of all actors: the ones placed

    @property
    def is_archive(self) -> bool:
        return self.layout is not None

    @property
    def part_path(self) -> Path:
        return self.dest.with_name(self.dest.name + ".part")


@dataclass
class Plan:
    corpus: Corpus
    dest: Path
    parts: tuple[str, ...]
    actors: tuple[int, ...] | None
    items: list[Item] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # files that failed while planning (pointers)
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, bytes] = field(default_factory=dict)  # small files written into DIR as they are
    pointers: dict[str, list] = field(default_factory=dict)  # CREMA-D: path -> [sha256, size]


# ------------------------------------------------------------------------------------------ RAVDESS

def zenodo_record(record: str, *, mirror: str | None, retries: int) -> dict[str, tuple[int, str]]:
    """{file name: (size, "md5:...")} from Zenodo's record API (either of its JSON shapes)."""
    url = resolve(f"{ZENODO}/api/records/{record}", mirror)
    data = get_bytes(url, name=f"Zenodo record {record}", retries=retries)
    try:
        doc = json.loads(data)
        files = doc["files"]
        if isinstance(files, dict):
            files = files.get("entries", files)
            files = list(files.values()) if isinstance(files, dict) else files
        out = {}
        for f in files:
            key = f.get("key") or f.get("filename")
            size = f.get("size", f.get("filesize"))
            checksum = f.get("checksum", "")
            if ":" not in checksum:
                checksum = f"md5:{checksum}"
            out[key] = (int(size), checksum.lower())
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise FetchError(f"Zenodo record {record}: not a record with a file list ({type(err).__name__}: {err}) at {url}") from None
    return out


def zenodo_file_url(record: str, key: str) -> str:
    return f"{ZENODO}/records/{record}/files/{key}?download=1"


def plan_ravdess(plan: Plan, *, mirror: str | None, retries: int) -> None:
    dest, actors = plan.dest, plan.actors
    chosen = actors or tuple(range(1, 25))
    wanted: list[tuple[str, str, str, bool]] = []  # (record, key, part, per actor)
    for part in plan.parts:
        if part == "video":
            wanted += [(RAVDESS_RECORD, f"Video_Speech_Actor_{a:02d}.zip", part, True) for a in chosen]
        elif part == "song-video":
            wanted += [(RAVDESS_RECORD, f"Video_Song_Actor_{a:02d}.zip", part, True) for a in chosen]
        elif part == "audio":
            wanted.append((RAVDESS_RECORD, "Audio_Speech_Actors_01-24.zip", part, False))
        elif part == "song-audio":
            wanted.append((RAVDESS_RECORD, "Audio_Song_Actors_01-24.zip", part, False))
        elif part == "landmarks":
            wanted.append((RAVDESS_LANDMARKS_RECORD, "FacialTracking_Actors_01-24.zip", part, False))
    records = {r: zenodo_record(r, mirror=mirror, retries=retries) for r in dict.fromkeys(w[0] for w in wanted)}
    for record, key, part, per_actor in wanted:
        if key not in records[record]:
            if part == "song-video":  # actor 18 recorded no song
                plan.notes.append(f"{key}: not in Zenodo record {record} (RAVDESS has no song of that actor)")
            else:
                plan.failed.append((key, f"not in Zenodo record {record}"))
            continue
        size, checksum = records[record][key]
        pinned = PINNED.get(key)
        if pinned and pinned != checksum:
            plan.failed.append((key, f"the record gives {checksum}, the published checksum is {pinned}; refused"))
            continue
        plan.items.append(Item(name=key, url=zenodo_file_url(record, key), dest=dest / DOWNLOADS / key, size=size,
                               checksum=checksum, part=part, layout="ravdess",
                               actors=None if per_actor else actors))
    if actors and len(actors) < 24:
        plan.notes.append(f"{len(actors)} of RAVDESS's 24 actors: prepare works on them; training on a partial "
                          "corpus needs --allow-partial (docs/data.md)")


def ravdess_place(member: str, actors: tuple[int, ...] | None) -> str | None:
    """Where a RAVDESS member goes, by its file name (the archive's own folders do not matter)."""
    from avemotion.data.datasets.ravdess import parse_name
    from avemotion.errors import InputError

    base = member.rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        return None
    try:
        v = parse_name(base)
    except InputError:
        return None
    actor = v["actor"]
    if actors is not None and actor not in actors:
        return None
    folder = f"Actor_{actor:02d}"
    ext = ext.lower()
    if ext == "csv":
        return f"landmarks/{folder}/{base}"
    speech = v["vocal_channel"] == 1
    if ext == "mp4" and v["modality"] in (1, 2):
        return f"{folder}/{base}" if speech else f"song/{folder}/{base}"
    if ext == "wav" and v["modality"] == 3:
        return f"{'audio-speech' if speech else 'audio-song'}/{folder}/{base}"
    return None


# ------------------------------------------------------------------------------------------ CREMA-D

CREMA_FOLDERS = {"video": ("VideoFlash", ".flv", ""), "audio": ("AudioWAV", ".wav", "audio")}
POINTER = re.compile(r"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n?$")


def parse_pointer(text: str) -> tuple[str, int] | None:
    """(sha256, size) of a Git LFS pointer file; None for anything else."""
    m = POINTER.match(text.replace("\r\n", "\n").strip() + "\n")
    return (m.group(1), int(m.group(2))) if m else None


def crema_names(data: bytes) -> list[str]:
    """The clip names of SentenceFilenames.csv (columns Stimulus_Number, Filename)."""
    from avemotion.data.datasets.cremad import parse_name
    from avemotion.errors import InputError

    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        names = [row["Filename"].strip() for row in rows]
    except (UnicodeDecodeError, KeyError, csv.Error) as err:
        raise FetchError(f"SentenceFilenames.csv: not CREMA-D's list of clips ({type(err).__name__}: {err})") from None
    good = []
    for n in names:
        try:
            parse_name(n + ".flv")
        except InputError:
            continue
        good.append(n)
    if not good:
        raise FetchError("SentenceFilenames.csv: no CREMA-D clip names in it")
    return good


def check_demographics(data: bytes) -> None:
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        ok = rows and all(row["ActorID"].strip().isdigit() and row["Sex"].strip() for row in rows)
    except (UnicodeDecodeError, KeyError, csv.Error, AttributeError):
        ok = False
    if not ok:
        raise FetchError("VideoDemographics.csv: not CREMA-D's demographics (columns ActorID, Sex, ...)")


def plan_crema(plan: Plan, *, mirror: str | None, retries: int, jobs: int, known: dict[str, list],
               stop: threading.Event | None = None, progress=None) -> None:
    dest = plan.dest
    names = crema_names(get_bytes(resolve(f"{CREMA_RAW}/SentenceFilenames.csv", mirror),
                                  name="SentenceFilenames.csv", retries=retries))
    if plan.actors is not None:
        chosen = set(plan.actors)
        names = [n for n in names if int(n[:4]) in chosen]
    demographics = get_bytes(resolve(f"{CREMA_RAW}/VideoDemographics.csv", mirror), name="VideoDemographics.csv",
                             retries=retries)
    check_demographics(demographics)
    plan.metadata["VideoDemographics.csv"] = demographics
    paths = [(part, f"{CREMA_FOLDERS[part][0]}/{n}{CREMA_FOLDERS[part][1]}", n) for part in plan.parts for n in names]

    def pointer(path: str) -> tuple[str, int]:
        if path in known:
            sha, size = known[path]
            return sha, int(size)
        text = get_bytes(resolve(f"{CREMA_RAW}/{path}", mirror), name=path, retries=retries, limit=4096, stop=stop)
        parsed = parse_pointer(text.decode("utf-8", "replace"))
        if parsed is None:
            raise FetchError(f"{path}: the repository holds no Git LFS pointer there (no checksum to verify against)")
        return parsed

    results: dict[str, tuple[str, int] | str] = {}
    workers = Workers(lambda p: _try(pointer, p), [p for _, p, _ in paths], jobs, stop or threading.Event())
    try:
        for path, res, err in workers:
            if err is not None:
                raise err
            results[path] = res
            if not isinstance(res, str):
                plan.pointers[path] = list(res)  # kept on Ctrl-C too (the caller saves them)
            if progress:
                progress()
    except KeyboardInterrupt:
        workers.halt()
        raise
    for part, path, n in paths:
        res = results[path]
        if isinstance(res, str):
            plan.failed.append((path, res))
            continue
        sha, size = res
        sub = CREMA_FOLDERS[part][2]
        target = (dest / sub if sub else dest) / path.rsplit("/", 1)[-1]
        plan.items.append(Item(name=path, url=f"{CREMA_MEDIA}/{path}", dest=target, size=size,
                               checksum=f"sha256:{sha}", part=part))


def _try(fn, arg):
    try:
        return fn(arg)
    except FetchError as err:
        return str(err).split(": ", 1)[-1]


def crema_manifest(folder: Path, demographics: Path | None) -> int:
    """folder/manifest.csv for the audio-only clips (the CREMA-D adapter reads video files only):
    path, label, speaker, gender, in CREMA-D's class names. Returns the number of rows."""
    from avemotion.data.datasets.cremad import CODES, parse_name, read_demographics
    from avemotion.errors import InputError
    from avemotion.utils.io import write_text

    genders = read_demographics(demographics) if demographics and demographics.is_file() else {}
    rows = []
    for path in sorted(folder.glob("*.wav")):
        try:
            v = parse_name(path)
        except InputError:
            continue
        rows.append((path.name, CODES[v["emotion"]], str(v["actor"]), genders.get(v["actor"], "")))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("path", "label", "speaker", "gender"))
    writer.writerows(rows)
    write_text(folder / "manifest.csv", buf.getvalue())
    return len(rows)


# ------------------------------------------------------------------------------------------ EmoDB

def plan_emodb(plan: Plan) -> None:
    plan.items.append(Item(name="download.zip", url=EMODB_URL, dest=plan.dest / DOWNLOADS / "download.zip",
                           size=None, checksum=None, part="audio", layout="emodb"))


def emodb_place(member: str) -> str | None:
    from avemotion.data.datasets.emodb import NAME

    base = member.rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if dot and ext.lower() == "wav" and NAME.match(stem):
        return f"wav/{base}"
    return member.strip("/") or None


def emodb_verify(folder: Path, placed: list[str], name: str = "download.zip") -> None:
    """Every utterance of the release, each decoding to the release's samples (emodb_samples.SAMPLES)."""
    import hashlib
    import wave

    from avemotion.data.download import emodb_samples
    from avemotion.data.download.extract import ArchiveError

    expected = emodb_samples.SAMPLES
    found = {p.rsplit("/", 1)[-1].rsplit(".", 1)[0]: p for p in placed if p.startswith("wav/")}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = []
    for stem in sorted(set(found) & set(expected)):
        try:
            with wave.open(str(folder / found[stem]), "rb") as w:
                ok_format = w.getsampwidth() == 2 and w.getnchannels() == 1
                frames = w.readframes(w.getnframes())
        except (wave.Error, EOFError, OSError):
            wrong.append(stem)
            continue
        sha, count = expected[stem]
        if not ok_format or len(frames) != 2 * count or hashlib.sha256(frames).hexdigest() != sha:
            wrong.append(stem)
    if missing or extra or wrong:
        what = "; ".join(f"{len(v)} {label} (e.g. {v[0]})" for label, v in
                         (("missing", missing), ("not in the release", extra), ("with other samples", wrong)) if v)
        raise ArchiveError(f"{name}: its utterances do not match EmoDB's release ({what} of {len(expected)})")


# ------------------------------------------------------------------------------------------ layout

def place_rule(item: Item):
    if item.layout == "ravdess":
        return lambda member: ravdess_place(member, item.actors)
    if item.layout == "emodb":
        return emodb_place
    raise ValueError(f"unknown layout {item.layout!r}")


def next_commands(plan: Plan) -> list[str]:
    """The `prepare` commands that read what this download wrote."""
    d, name = str(plan.dest), plan.corpus.name
    out = []
    if name == "ravdess":
        if "video" in plan.parts:
            out.append(f"avemotion prepare {d} --out cache/ravdess")
        if "audio" in plan.parts:
            out.append(f"avemotion prepare {d}/audio-speech --out cache/ravdess-speech")
    elif name == "crema-d":
        if "video" in plan.parts:
            out.append(f"avemotion prepare {d} --out cache/crema-d")
        if "audio" in plan.parts:
            labels = "neutral,happy,sad,angry,fearful,disgust"
            out.append(f"avemotion prepare --manifest {d}/audio/manifest.csv --labels {labels} --out cache/crema-d-audio")
    elif name == "emodb":
        out.append(f"avemotion prepare {d} --out cache/emodb")
    return out
