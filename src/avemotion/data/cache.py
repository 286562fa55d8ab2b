"""Preprocessed clips on disk, keyed by the preprocessing settings' hash.

Layout (docs/data.md): ROOT/<cfg.hash()>/
    config.json                settings, hash, fingerprint (libraries, feature revision): checked on open;
                               the corpus's class names in label order (`labels`; none recorded:
                               RAVDESS's 8) and speaker names by actor id (`speakers`, where named)
    clips/<clip_id>.video.npy  uint8 (T, S, S, 3) RGB, uncompressed: np.load(mmap_mode="r") is a page-in
                               (absent in an audio-only cache: config.preprocess.modalities says which)
    clips/<clip_id>.mfcc.npy   float32 (n_mfcc, mfcc_frames)
    clips/<clip_id>.json       the ClipRecord dict + crop boxes/times; written last = "clip is cached"
    index.jsonl                one record per cached clip (rebuilt by `prepare`, for tools and people)
    report.json                the last prepare report
    clips/<clip_id>.lock       only while a prepare process works on the clip (its pid and host)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig, cache_fingerprint
from avemotion.data.labels import DEFAULT_LABELS, recorded_labels
from avemotion.errors import ConfigError
from avemotion.utils.io import atomic_path, read_json, write_json, write_text
from avemotion.utils.locks import take_lock

# `open_cache(..., check_fingerprint=None)` reads this variable: "1" accepts a cache whose recorded
# libraries or feature revision differ from the running ones (the CLI's escape).
ACCEPT_FINGERPRINT_ENV = "AVEMOTION_ACCEPT_FINGERPRINT"


class ClipCache:
    def __init__(self, path: Path, config: PreprocessConfig):
        self.path = Path(path)
        self.config = config
        self.clips = self.path / "clips"

    @classmethod
    def create(cls, root: str | Path, cfg: PreprocessConfig, labels=None, speakers: dict | None = None) -> "ClipCache":
        """Open or create ROOT/<cfg.hash()>/ (an existing folder with the same hash is reused).

        `labels` (the corpus's class names in label order) and `speakers` (actor id -> name) are
        recorded in config.json; an existing cache holding other classes is refused (ConfigError):
        label ints of two label spaces must never mix in one cache."""
        path = Path(root) / cfg.hash()
        if (path / "config.json").is_file():
            cache = open_cache(path)
            if labels is not None:
                cache._claim(tuple(labels), speakers or {})
            return cache
        meta = {"hash": cfg.hash(), "preprocess": cfg.to_dict(), **cache_fingerprint()}
        if labels is not None:
            meta["labels"] = list(labels)
        if speakers:
            meta["speakers"] = {str(a): n for a, n in sorted(speakers.items())}
        try:
            write_json(path / "config.json", meta)
            (path / "clips").mkdir(parents=True, exist_ok=True)
        except PermissionError as err:
            raise ConfigError(f"{err.filename or path}: cannot write the cache ({err.strerror})") from None
        return cls(path, cfg)

    def _meta(self) -> dict:
        meta = read_json(self.path / "config.json")
        return meta if isinstance(meta, dict) else {}

    @property
    def labels(self) -> tuple[str, ...]:
        """The class names in label order (config.json `labels`; RAVDESS's 8 when none recorded)."""
        if not hasattr(self, "_labels"):
            self._labels = recorded_labels(self._meta())
        return self._labels

    @property
    def speakers(self) -> dict[int, str]:
        """Actor id -> the corpus's speaker name (manifest and IEMOCAP corpora; {} for the others)."""
        return {int(a): n for a, n in (self._meta().get("speakers") or {}).items()}

    def _claim(self, labels: tuple[str, ...], speakers: dict) -> None:
        """Record `labels`/`speakers` in an existing cache, or refuse a cache holding other classes."""
        meta = self._meta()
        recorded = meta.get("labels")
        if recorded is None and labels != DEFAULT_LABELS and len(self):
            raise ConfigError(f"{self.path}: holds clips labelled with RAVDESS's 8 classes (prepared before class "
                              f"names were recorded); this corpus has {len(labels)} ({', '.join(labels)}): "
                              "prepare it into another --out")
        if recorded is not None and tuple(recorded) != labels:
            raise ConfigError(f"{self.path}: holds clips of the classes {', '.join(recorded)}; this corpus has "
                              f"{', '.join(labels)}: prepare it into another --out")
        known = {int(a): n for a, n in (meta.get("speakers") or {}).items()}
        clash = sorted(a for a, n in speakers.items() if known.get(int(a), n) != n)
        if clash:
            raise ConfigError(f"{self.path}: actor id {clash[0]} is speaker {known[clash[0]]!r} in this cache, "
                              f"{speakers[clash[0]]!r} in this corpus: prepare it into another --out")
        merged = {**known, **{int(a): n for a, n in speakers.items()}}
        if (recorded is None and labels != DEFAULT_LABELS) or merged != known:
            if recorded is not None or labels != DEFAULT_LABELS:
                meta["labels"] = list(labels)
            if merged:
                meta["speakers"] = {str(a): n for a, n in sorted(merged.items())}
            write_json(self.path / "config.json", meta)
        self._labels = labels

    def _file(self, clip_id: str, kind: str) -> Path:
        return self.clips / f"{clip_file_stem(clip_id)}.{kind}"

    def has(self, clip_id: str) -> bool:
        return self._file(clip_id, "json").is_file()

    @contextlib.contextmanager
    def lock(self, clip_id: str):
        """Yield None when this process holds clip_id's lock (clips/<clip_id>.lock, created with
        O_EXCL, removed after), else a one-line note naming the other prepare that holds it. A lock
        whose process is dead (same host) is stale and taken over."""
        path = self._file(clip_id, "lock")
        holder = take_lock(path)
        if holder is not None:
            holder = f"being prepared by {holder} (lock {path}; delete it if no prepare runs)"
        try:
            yield holder
        finally:
            if holder is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def write(self, record, arrays) -> None:
        """Arrays first, then the per-clip JSON, each atomically: a crash never leaves a half clip."""
        rec = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        clip_id = rec["clip_id"]
        for kind, arr in (("video.npy", arrays.video), ("mfcc.npy", arrays.mfcc)):
            if arr is None:
                continue
            with atomic_path(self._file(clip_id, kind)) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, arr)
        video = arrays.video is not None
        rec["prep"] = {"boxes": np.round(arrays.boxes, 1).tolist() if video else None, "start": arrays.start,
                       "end": arrays.end, "face_source": arrays.face_source,
                       "frames": int(arrays.video.shape[0]) if video else 0,
                       "padded": bool(getattr(arrays, "padded", False)),
                       # identical audio windows under two names (RAVDESS Actor_07 has such a pair)
                       "mfcc_sha1": hashlib.sha1(np.ascontiguousarray(arrays.mfcc).tobytes()).hexdigest()}
        write_json(self._file(clip_id, "json"), rec)

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.config.modalities

    def load(self, clip_id: str, mmap: bool = True, video: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        """(video uint8 (T, S, S, 3), mfcc float32); video memory-mapped by default (read on use),
        None in an audio-only cache or when `video` is False (a model that needs no video)."""
        video = video and "video" in self.modalities
        frames = self._array(clip_id, "video.npy", "r" if mmap else None) if video else None
        mfcc = self._array(clip_id, "mfcc.npy")
        if not np.isfinite(mfcc).all():  # prepare writes finite features only: the file was damaged since
            raise ConfigError(f"{self._file(clip_id, 'mfcc.npy')}: holds NaN or infinite values (a damaged cache: "
                              "remove the clip's files and prepare again)")
        return frames, mfcc

    def _array(self, clip_id: str, kind: str, mmap_mode: str | None = None) -> np.ndarray:
        """One cached array; a file that is missing or cannot be read is a one-line ConfigError."""
        path = self._file(clip_id, kind)
        try:
            return np.load(path, mmap_mode=mmap_mode)
        except FileNotFoundError:
            raise ConfigError(f"{path}: missing from the cache (prepare the corpus again)") from None
        except (OSError, ValueError) as err:  # permission; a damaged .npy header
            raise ConfigError(f"{path}: cannot read ({getattr(err, 'strerror', None) or err})") from None

    def duplicates(self, records: list[dict] | None = None) -> list[list[str]]:
        """Groups of clips whose audio windows are identical (same MFCC bytes), e.g. one recording
        filed under two names; `records` (default: read them) are the cache's records."""
        groups: dict[str, list[str]] = {}
        for r in records or self.records():
            digest = (r.get("prep") or {}).get("mfcc_sha1")
            if digest:
                groups.setdefault(digest, []).append(r["clip_id"])
        return [sorted(ids) for ids in groups.values() if len(ids) > 1]

    def record(self, clip_id: str) -> dict:
        return read_json(self._file(clip_id, "json"))

    def records(self) -> list[dict]:
        """Every cached clip's record, sorted by (actor, clip_id); the per-clip JSONs are the truth."""
        recs = [read_json(p) for p in self.clips.glob("*.json")]
        return sorted(recs, key=lambda r: (r["actor"], r["clip_id"]))

    def clip_ids(self) -> list[str]:
        return [r["clip_id"] for r in self.records()]

    @staticmethod
    def dataset(records: list[dict]) -> str | None:
        """The dataset adapter(s) that read these clips ("ravdess", "iemocap", "manifest", ...;
        comma-joined when a cache mixes them), None when the records do not say."""
        return ",".join(sorted({str(r["dataset"]) for r in records if r.get("dataset")})) or None

    @staticmethod
    def face_sources(records: list[dict]) -> dict[str, int]:
        """Clips per face source ("landmarks", "detector", "none" for audio only) of these records."""
        counts: dict[str, int] = {}
        for r in records:
            source = (r.get("prep") or {}).get("face_source", "unknown")
            counts[source] = counts.get(source, 0) + 1
        return dict(sorted(counts.items()))

    def write_index(self, records: list[dict] | None = None) -> None:
        """index.jsonl from `records` (default: read them), without the per-clip `prep` details."""
        lines = [json.dumps({k: v for k, v in r.items() if k != "prep"}) for r in records or self.records()]
        write_text(self.path / "index.jsonl", "".join(line + "\n" for line in lines))

    def __len__(self) -> int:
        return sum(1 for _ in self.clips.glob("*.json"))

    def write_extent(self, extent: dict) -> None:
        """corpus.json: what the complete corpus holds (datasets.Extent.to_dict), written by prepare."""
        write_json(self.path / "corpus.json", extent)

    def write_protocol(self, protocol: dict) -> None:
        """protocol.json: the corpus's standard folds (datasets.Scan.protocol), written by prepare."""
        write_json(self.path / "protocol.json", protocol)

    def protocol(self) -> dict | None:
        """The corpus's standard folds ({"n_folds", "n_val", "name"}), None when it has none."""
        path = self.path / "protocol.json"
        return read_json(path) if path.is_file() else None

    def extent(self) -> dict | None:
        """The corpus extent prepare recorded (None for a cache made before it did, or a corpus
        nobody declared: then completeness cannot be checked)."""
        path = self.path / "corpus.json"
        return read_json(path) if path.is_file() else None


# ---------------------------------------------------------------------- what a cache's clips hold

# A clip id is its files' name when it is short and plain; any other id (a manifest's 300-character
# id, an `end` of 1e308 s in a derived one, a space or a non-ASCII letter) is named by a digest,
# after a readable prefix, so no id can make a file name the file system refuses.
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}")


def clip_file_stem(clip_id: str) -> str:
    if _PLAIN_ID.fullmatch(clip_id):
        return clip_id
    prefix = re.sub(r"[^A-Za-z0-9._+=-]", "_", clip_id)[:40].lstrip(".")
    return f"{prefix}~{hashlib.sha256(clip_id.encode('utf-8', 'surrogatepass')).hexdigest()[:20]}"


def content_digest(payload) -> str:
    """A 16-hex digest of a JSON-able payload (the formula of training's settings hashes, so the
    identities recorded in earlier run.json files stay valid)."""
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _arrays(record: dict) -> list:
    """What the cache records of a clip's arrays: the digest of its MFCCs and its face boxes."""
    prep = record.get("prep") or {}
    return [prep.get("mfcc_sha1"), prep.get("boxes")]


def content_key(record: dict) -> str | None:
    """What a model hears and sees of a clip, whatever it is called or labelled (_arrays). Two caches
    of the same media with the same settings give the same key; None for a record that holds neither."""
    arrays = _arrays(record)
    return None if arrays == [None, None] else content_digest(arrays)


def clip_digests(records: list[dict]) -> dict[str, str]:
    """clip id -> a digest of what a model learns from the clip: its label and cached arrays, so two
    corpora that name clips alike differ."""
    return {r["clip_id"]: content_digest([r["label"], *_arrays(r)]) for r in records}


def cache_identity(digests: dict[str, str]) -> str:
    """A cache's identity: the digest of every clip's id and content (clip_digests)."""
    return content_digest(sorted(digests.items()))


def _check_recorded(path: Path, meta: dict, check_fingerprint: bool) -> PreprocessConfig:
    """The settings config.json holds, after checking its stored hash against them and its recorded
    fingerprint against the running one; ConfigError naming the file and what differs."""
    where = path / "config.json"
    try:
        cfg = PreprocessConfig.from_dict(meta["preprocess"])
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{where}: settings not understood ({type(err).__name__}: {err})") from None
    running = cache_fingerprint()
    # feature_revision is recorded since it exists; older caches are checked against the current one
    recorded = {k: meta.get(k, running[k] if k == "feature_revision" else None) for k in running}
    if meta.get("hash") != cfg.hash(recorded):
        raise ConfigError(f"{where}: stored hash {meta.get('hash')} does not match the settings and fingerprint it "
                          f"holds ({cfg.hash(recorded)}): edited or damaged; prepare the corpus again")
    differs = [f"{k} {recorded[k]} (running {running[k]})" for k in running if recorded[k] != running[k]]
    if check_fingerprint and differs:
        raise ConfigError(f"{path}: prepared with {', '.join(differs)}, so its features may differ from what this "
                          f"installation computes; prepare again, or accept it with {ACCEPT_FINGERPRINT_ENV}=1 "
                          "(open_cache(..., check_fingerprint=False))")
    return cfg


def open_cache(path: str | Path, cfg: PreprocessConfig | None = None, *,
               check_fingerprint: bool | None = None) -> ClipCache:
    """Open a cache folder: the hash folder itself, or a root holding one (or `cfg`'s) hash folder.

    config.json must be consistent (its hash is that of the settings and fingerprint it records) and,
    unless `check_fingerprint` is False, recorded with the running libraries and feature revision
    (None: checked unless the environment sets AVEMOTION_ACCEPT_FINGERPRINT=1)."""
    if check_fingerprint is None:
        check_fingerprint = os.environ.get(ACCEPT_FINGERPRINT_ENV, "") != "1"
    try:
        path, cfg_found = _locate(Path(path), cfg, check_fingerprint)
    except PermissionError as err:
        raise ConfigError(f"{err.filename or path}: cannot read the cache ({err.strerror})") from None
    return ClipCache(path, cfg_found)


def _locate(path: Path, cfg: PreprocessConfig | None, check_fingerprint: bool) -> tuple[Path, PreprocessConfig]:
    if cfg is not None and not (path / "config.json").is_file():
        path = path / cfg.hash()
    if not (path / "config.json").is_file():
        subs = sorted(p for p in path.glob("*/config.json")) if path.is_dir() else []
        if len(subs) != 1:
            what = "no prepared cache" if not subs else f"{len(subs)} caches ({', '.join(p.parent.name for p in subs)}); pass one"
            raise ConfigError(f"{path}: {what}")
        path = subs[0].parent
    meta = read_json(path / "config.json")
    if not isinstance(meta, dict):
        raise ConfigError(f"{path / 'config.json'}: not a cache configuration")
    cfg_found = _check_recorded(path, meta, check_fingerprint)
    if cfg is not None and cfg_found.hash() != cfg.hash():
        raise ConfigError(f"{path}: cache was prepared with other settings (hash {cfg_found.hash()}, wanted {cfg.hash()})")
    return path, cfg_found
