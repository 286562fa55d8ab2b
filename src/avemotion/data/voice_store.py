"""A corpus's utterances as 16 kHz level-normalised speech (data/voice.py), kept on disk for training.

Waveforms, not features, are stored: the voice models compute their own log-mel features on the fly
(cheap for models this size) so that waveform-domain augmentation (noise, reverberation, band limits,
speed, codecs) can run before them. Layout of a store:

    STORE/config.json        VoiceConfig + hash, dataset name, class names, speakers, counts
    STORE/shard_KKK.npz      waves (concatenated float32), offsets, and the clips' ids
    STORE/index.jsonl        one line per stored clip: id, emotion, speaker, gender, shard, seconds
    STORE/report.json        refused files with their reasons

Shards of SHARD clips are written atomically, so an interrupted build resumes at the first missing
shard and never leaves half a file.
"""

from __future__ import annotations

import functools
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avemotion.data.voice import VoiceConfig, load_utterance
from avemotion.errors import AvemotionError, ConfigError, InputError
from avemotion.utils.io import atomic_path, read_json, write_json

SHARD = 256


@dataclass
class VoiceCorpus:
    """The stored utterances of one corpus (or several, concatenated by `merge`)."""

    cfg: VoiceConfig
    dataset: str
    labels: tuple[str, ...]  # the corpus's class names (the adapter's, shared names where shared)
    ids: list[str]
    emotions: list[str]
    speakers: list[str]  # "dataset:speaker": unique across corpora
    genders: list[str]
    corpora: list[str]  # dataset of each clip
    waves: list[np.ndarray] = field(repr=False)
    stores: dict[str, Path] = field(default_factory=dict)  # dataset -> its store folder (feature caches)
    # the corpus's own facts, from its adapter: speaker -> integer actor id (folds are consecutive ids:
    # EmoDB's adapter numbers its speakers so that pairs are one man and one woman), and each dataset's
    # standard fold protocol ({"n_folds", "n_val", "name"}; None: 6 folds and 4 validation speakers)
    actor_ids: dict[str, int] = field(default_factory=dict)
    protocols: dict[str, dict | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep) -> "VoiceCorpus":
        keep = [i for i in range(len(self)) if keep(i)]
        pick = lambda xs: [xs[i] for i in keep]  # noqa: E731
        return VoiceCorpus(self.cfg, self.dataset, self.labels, pick(self.ids), pick(self.emotions), pick(self.speakers),
                           pick(self.genders), pick(self.corpora), pick(self.waves), dict(self.stores),
                           dict(self.actor_ids), dict(self.protocols))

    def digest(self) -> str:
        """Identity of the content: ids, labels and every sample (a store rebuilt from other files differs)."""
        h = hashlib.sha256()
        for i, e, w in zip(self.ids, self.emotions, self.waves):
            h.update(f"{i}\0{e}\0".encode())
            h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:16]


def merge(corpora: list[VoiceCorpus]) -> VoiceCorpus:
    if len({c.cfg.hash() for c in corpora}) != 1:
        raise ConfigError("voice stores made with different settings cannot be trained together")
    labels = tuple(dict.fromkeys(n for c in corpora for n in c.labels))
    cat = lambda attr: [x for c in corpora for x in getattr(c, attr)]  # noqa: E731
    union = lambda attr: {k: v for c in corpora for k, v in getattr(c, attr).items()}  # noqa: E731
    return VoiceCorpus(corpora[0].cfg, "+".join(c.dataset for c in corpora), labels, cat("ids"), cat("emotions"),
                       cat("speakers"), cat("genders"), cat("corpora"), cat("waves"), union("stores"),
                       union("actor_ids"), union("protocols"))


def _one(args):
    path, cfg_dict = args
    try:
        utt = load_utterance(path, VoiceConfig.from_dict(cfg_dict))
        return utt.wave, None
    except InputError as err:
        return None, err.to_dict()


def build_store(root: str | Path, out: str | Path, cfg: VoiceConfig | None = None, *, dataset: str | None = None,
                workers: int = 2, progress: bool = True) -> VoiceCorpus:
    """Scan `root` (any corpus layout avemotion knows, or a manifest CSV), store its speech in `out`
    (resuming what is there) and return it. Refused files are reported in report.json and counted."""
    from avemotion.data.datasets import scan_dataset

    cfg = cfg or VoiceConfig()
    out = Path(out)
    scan = scan_dataset(root, dataset)
    if not scan.records:
        raise ConfigError(f"{root}: no clips found")
    if scan.dataset == "manifest":  # a corpus from a CSV is called by the CSV's name (speakers are "name:speaker")
        scan.dataset = Path(root).stem
    _check_existing(out, cfg, scan.dataset)
    write_json(out / "config.json", _config_doc(cfg, scan))
    records = scan.records
    shards = [records[i:i + SHARD] for i in range(0, len(records), SHARD)]
    refused = []
    with ProcessPoolExecutor(max(1, workers)) as pool, _Progress(progress, len(records), f"voice store {scan.dataset}") as bar:
        for k, shard in enumerate(shards):
            path = out / f"shard_{k:03d}.npz"
            if path.is_file():
                refused += read_json(path.with_suffix(".refused.json"), kind=list)
                bar.advance(len(shard))
                continue
            refused += _write_shard(path, shard, pool, cfg, bar)
    _write_index(out, shards)
    write_json(out / "report.json", {"clips": len(records), "refused": refused})
    return open_store(out)


def _write_shard(path: Path, shard, pool, cfg: VoiceConfig, bar) -> list[dict]:
    waves, ids, refused = [], [], []
    for record, (wave, err) in zip(shard, pool.map(_one, [(r.audio_path or r.path, cfg.to_dict()) for r in shard])):
        bar.advance(1)
        if err is not None:
            refused.append(err)
            continue
        waves.append(wave)
        ids.append(record.clip_id)
    offsets = np.cumsum([0] + [len(w) for w in waves]).astype(np.int64)
    data = np.concatenate(waves) if waves else np.zeros(0, np.float32)
    write_json(path.with_suffix(".refused.json"), refused)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, waves=data, offsets=offsets, ids=np.array(ids, dtype=str))
    return refused


def _write_index(out: Path, shards) -> None:
    lines = []
    for k, shard in enumerate(shards):
        with np.load(out / f"shard_{k:03d}.npz") as z:
            kept = set(z["ids"].tolist())
        for r in shard:
            if r.clip_id in kept:
                lines.append(json.dumps({"id": r.clip_id, "emotion": r.emotion, "speaker": r.speaker or f"{r.actor:02d}",
                                         "actor": r.actor, "gender": r.gender, "shard": k}))
    with atomic_path(out / "index.jsonl") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _config_doc(cfg: VoiceConfig, scan) -> dict:
    return {"voice": cfg.to_dict(), "hash": cfg.hash(), "dataset": scan.dataset, "labels": list(scan.labels),
            "clips": len(scan.records), "protocol": scan.protocol}


def _check_existing(out: Path, cfg: VoiceConfig, dataset: str) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if (out / "config.json").is_file():
        doc = read_json(out / "config.json")
        if doc.get("hash") != cfg.hash() or doc.get("dataset") != dataset:
            raise ConfigError(f"{out}: holds a voice store of {doc.get('dataset')} with settings {doc.get('hash')}; "
                              f"this one is {dataset} with {cfg.hash()} (choose another --out)")
    elif out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty and not a voice store (choose an empty or new folder)")


def open_store(path: str | Path) -> VoiceCorpus:
    path = Path(path)
    try:
        doc = read_json(path / "config.json")
        cfg = VoiceConfig.from_dict(doc["voice"])
        rows = [json.loads(line) for line in (path / "index.jsonl").read_text().splitlines() if line.strip()]
        dataset = doc["dataset"]
        actors = {f"{dataset}:{r['speaker']}": int(r["actor"]) for r in rows}
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"{path}: not a voice store of this version ({type(err).__name__}: {err}); rebuild it "
                          f"with avemotion voice prepare") from None
    if cfg.hash() != doc.get("hash"):
        raise ConfigError(f"{path}: made by another version of the voice preprocessing (rebuild it)")
    waves = _read_waves(path, rows)
    return VoiceCorpus(cfg, dataset, tuple(doc["labels"]), [r["id"] for r in rows], [r["emotion"] for r in rows],
                       [f"{dataset}:{r['speaker']}" for r in rows], [r["gender"] for r in rows], [dataset] * len(rows), waves,
                       {dataset: path}, actors, {dataset: doc.get("protocol")})


def _read_waves(path: Path, rows: list[dict]) -> list[np.ndarray]:
    by_id = {}
    for k in sorted({r["shard"] for r in rows}):
        with np.load(path / f"shard_{k:03d}.npz") as z:
            data, offsets = z["waves"], z["offsets"]
            for j, clip in enumerate(z["ids"].tolist()):
                by_id[clip] = data[offsets[j]:offsets[j + 1]]
    missing = [r["id"] for r in rows if r["id"] not in by_id]
    if missing:
        raise AvemotionError(f"{path}: {len(missing)} indexed clips have no stored speech (e.g. {missing[0]}); rebuild it")
    return [by_id[r["id"]] for r in rows]


class _Progress:
    def __init__(self, enabled: bool, total: int, what: str):
        self.enabled, self.total, self.what = enabled, total, what

    def __enter__(self):
        if self.enabled:
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=self.total)
        return self

    def advance(self, n: int) -> None:
        if self.enabled:
            self.bar.advance(self.task, n)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()


def cached_features(corpus: VoiceCorpus, name: str, compute) -> np.ndarray:
    """(n, d) features of every utterance, computed once per store and kept in STORE/features_NAME.npz
    (`name` says what computed them, versions included); `compute(waves) -> (k, d)` for the missing."""
    out = [None] * len(corpus)
    for dataset in sorted(set(corpus.corpora)):
        rows = [i for i, c in enumerate(corpus.corpora) if c == dataset]
        folder = corpus.stores.get(dataset)
        known = _read_features(folder / f"features_{name}.npz") if folder else {}
        missing = [i for i in rows if corpus.ids[i] not in known]
        if missing:
            values = compute([corpus.waves[i] for i in missing])
            known.update({corpus.ids[i]: v for i, v in zip(missing, values)})
            if folder:
                ids = sorted(known)
                with atomic_path(folder / f"features_{name}.npz") as tmp:
                    with open(tmp, "wb") as f:
                        np.savez(f, ids=np.array(ids, dtype=str), x=np.stack([known[i] for i in ids]))
        for i in rows:
            out[i] = known[corpus.ids[i]]
    return np.stack(out).astype(np.float32)


def _read_features(path: Path) -> dict:
    """The cached features of one store as {clip id: vector}; read from disk once per version of the
    file (a stage asks for its training, validation and test features: three reads of up to 110 MB)."""
    if not path.is_file():
        return {}
    stat = path.stat()
    return dict(_load_features(str(path), stat.st_mtime_ns, stat.st_size))  # a copy: callers add to it


@functools.lru_cache(maxsize=8)
def _load_features(path: str, mtime_ns: int, size: int) -> dict:
    with np.load(path) as z:
        return dict(zip(z["ids"].tolist(), z["x"]))
