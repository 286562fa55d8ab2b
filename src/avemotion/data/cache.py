"""Preprocessed clips on disk, keyed by the preprocessing settings' hash.

Layout (docs/data.md): ROOT/<cfg.hash()>/
    config.json                settings, hash, library fingerprint
    clips/<clip_id>.video.npy  uint8 (T, S, S, 3) RGB, uncompressed: np.load(mmap_mode="r") is a page-in
                               (absent in an audio-only cache: config.preprocess.modalities says which)
    clips/<clip_id>.mfcc.npy   float32 (n_mfcc, mfcc_frames)
    clips/<clip_id>.json       the ClipRecord dict + crop boxes/times; written last = "clip is cached"
    index.jsonl                one record per cached clip (rebuilt by `prepare`, for tools and people)
    report.json                the last prepare report
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig, library_fingerprint
from avemotion.errors import ConfigError
from avemotion.utils.io import atomic_path, read_json, write_json, write_text


class ClipCache:
    def __init__(self, path: Path, config: PreprocessConfig):
        self.path = Path(path)
        self.config = config
        self.clips = self.path / "clips"

    @classmethod
    def create(cls, root: str | Path, cfg: PreprocessConfig) -> "ClipCache":
        """Open or create ROOT/<cfg.hash()>/ (an existing folder with the same hash is reused)."""
        path = Path(root) / cfg.hash()
        if (path / "config.json").is_file():
            return open_cache(path)
        write_json(path / "config.json", {"hash": cfg.hash(), "preprocess": cfg.to_dict(), **library_fingerprint()})
        (path / "clips").mkdir(parents=True, exist_ok=True)
        return cls(path, cfg)

    def _file(self, clip_id: str, kind: str) -> Path:
        return self.clips / f"{clip_id}.{kind}"

    def has(self, clip_id: str) -> bool:
        return self._file(clip_id, "json").is_file()

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
        frames = np.load(self._file(clip_id, "video.npy"), mmap_mode="r" if mmap else None) if video else None
        mfcc = np.load(self._file(clip_id, "mfcc.npy"))
        return frames, mfcc

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

    def write_index(self, records: list[dict] | None = None) -> None:
        """index.jsonl from `records` (default: read them), without the per-clip `prep` details."""
        lines = [json.dumps({k: v for k, v in r.items() if k != "prep"}) for r in records or self.records()]
        write_text(self.path / "index.jsonl", "".join(line + "\n" for line in lines))

    def __len__(self) -> int:
        return sum(1 for _ in self.clips.glob("*.json"))


def open_cache(path: str | Path, cfg: PreprocessConfig | None = None) -> ClipCache:
    """Open a cache folder: the hash folder itself, or a root holding one (or `cfg`'s) hash folder."""
    path = Path(path)
    if cfg is not None and not (path / "config.json").is_file():
        path = path / cfg.hash()
    if not (path / "config.json").is_file():
        subs = sorted(p for p in path.glob("*/config.json")) if path.is_dir() else []
        if len(subs) != 1:
            what = "no prepared cache" if not subs else f"{len(subs)} caches ({', '.join(p.parent.name for p in subs)}); pass one"
            raise ConfigError(f"{path}: {what}")
        path = subs[0].parent
    meta = read_json(path / "config.json")
    cfg_found = PreprocessConfig.from_dict(meta["preprocess"])
    if cfg is not None and cfg_found.hash() != cfg.hash():
        raise ConfigError(f"{path}: cache was prepared with other settings (hash {cfg_found.hash()}, wanted {cfg.hash()})")
    return ClipCache(path, cfg_found)
