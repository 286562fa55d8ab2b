"""A voice run: plan the splits, train each (split, seed) once, score the test speakers, report.

    RUN/run.json                      the resolved settings, the stores' identities, the splits
    RUN/<split>/seed_<s>/model.*      the selected model (models/voice_weights.py format)
    RUN/<split>/seed_<s>/stage.json   the stage's hash, its history (one row per epoch), its time
    RUN/<split>/seed_<s>/test.json    the test utterances' probabilities
    RUN/report.json, RUN/report.md    per test corpus: mean +- std over splits x seeds, and the pooled
                                      cross-corpus report (evaluation/voice_report.py) of each seed

A stage whose stage.json holds the same hash (settings, split, stores' content digests) is reused,
so a killed run resumes by running the same command; a run folder holding another run's settings is
refused rather than mixed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np

from avemotion.data.voice import VoiceConfig
from avemotion.data.voice_store import VoiceCorpus, merge, open_store
from avemotion.errors import ConfigError
from avemotion.evaluation.voice_report import corpus_report, report_markdown
from avemotion.models.voice_weights import load_voice_model, save_voice_model, voice_paths
from avemotion.training.voice import VoiceTrainConfig, predict_probs, train_voice
from avemotion.training.voice_protocol import PROTOCOLS, VoiceSplit, plan, select, seeds_summary
from avemotion.utils.io import atomic_path, read_json, write_json
from avemotion.utils.targets import check_targets

logger = logging.getLogger(__name__)


def _hash(doc) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def run_voice(stores: list[str | Path], out: str | Path, cfg: VoiceTrainConfig, *, protocol: str, seeds: list[int],
              n_folds: int | None = None, n_val: int | None = None, folds: list[int] | None = None) -> dict:
    out = Path(out)
    if protocol not in PROTOCOLS:  # before any store is read
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    corpora = [open_store(s) for s in stores]
    if len({c.dataset for c in corpora}) != len(corpora):
        raise ConfigError("each corpus may be given once (two stores of the same dataset)")
    splits = plan(corpora, protocol, n_folds=n_folds, n_val=n_val, folds=folds)
    identity = {c.dataset: c.digest() for c in corpora}
    run_doc = {"kind": "avemotion-voice-run", "protocol": protocol, "train": cfg.to_dict(), "seeds": seeds,
               "stores": {c.dataset: {"path": str(Path(s).resolve()), "digest": identity[c.dataset], "clips": len(c)}
                          for c, s in zip(corpora, stores)},
               "voice": corpora[0].cfg.to_dict(), "splits": [s.to_dict() for s in splits]}
    _bind(out, run_doc)
    everything = merge(corpora)
    for split in splits:
        for seed in seeds:
            _stage(out, everything, split, cfg, seed, identity)
    return build_report(out, run_doc)


def _bind(out: Path, run_doc: dict) -> None:
    """Write run.json, or check that the folder's run has the same settings (resume)."""
    path = out / "run.json"
    if path.is_file():
        old = read_json(path)
        same = {k: old.get(k) for k in ("protocol", "train", "stores", "voice")} == {k: run_doc[k] for k in ("protocol", "train", "stores", "voice")}
        if not same:
            raise ConfigError(f"{out}: holds a voice run with other settings or other data; choose another --out")
        run_doc["seeds"] = sorted(set(old.get("seeds", [])) | set(run_doc["seeds"]))
        known = {s["name"]: s for s in old.get("splits", [])}
        known.update({s["name"]: s for s in run_doc["splits"]})
        run_doc["splits"] = list(known.values())
    elif out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty and not a voice run (choose a new folder)")
    write_json(path, run_doc)


def _stage(out: Path, corpus: VoiceCorpus, split: VoiceSplit, cfg: VoiceTrainConfig, seed: int, identity: dict) -> None:
    folder = out / split.name / f"seed_{seed}"
    stage_hash = _hash({"train": dict(cfg.to_dict(), seed=seed), "split": split.to_dict(), "stores": identity})
    stage_file = folder / "stage.json"
    if stage_file.is_file() and read_json(stage_file).get("hash") == stage_hash:
        logger.info(f"{split.name} seed {seed}: done, reusing")
        return
    train = select(corpus, split.train, split.classes)
    val = select(corpus, split.val, split.classes)
    if not len(train) or not len(val):
        raise ConfigError(f"{split.name}: no training or validation utterances of the classes {', '.join(split.classes)}")
    logger.info(f"{split.name} seed {seed}: {len(train)} training utterances ({len(set(train.speakers))} speakers), "
                f"{len(val)} validation ({len(set(val.speakers))} speakers), classes {', '.join(split.classes)}")
    started = time.perf_counter()
    model, history = train_voice(train, val, split.classes, VoiceTrainConfig(**dict(cfg.to_dict(), seed=seed)),
                                 progress=lambda row: logger.info(f"  epoch {row['epoch']}: loss {row['loss']:.3f}, "
                                                                  f"validation UAR {100 * row.get('val_uar', float('nan')):.1f} %"))
    save_voice_model(model, folder / "model", labels=split.classes, cfg=corpus.cfg,
                     extra={"split": split.to_dict(), "seed": seed, "train": cfg.to_dict(), "stores": identity})
    test = select(corpus, split.test)
    probs = predict_probs(model, test) if len(test) else np.zeros((0, len(split.classes)))
    write_json(folder / "test.json", {"labels": list(split.classes), "ids": test.ids, "corpora": test.corpora,
                                      "speakers": test.speakers, "emotions": test.emotions,
                                      "probs": np.round(probs, 6).tolist()})
    write_json(stage_file, {"hash": stage_hash, "history": history, "seconds": round(time.perf_counter() - started, 1)})


def build_report(out: Path, run_doc: dict) -> dict:
    """Per test corpus: each stage's figures, their mean +- std, and the pooled report of each seed."""
    per_corpus: dict[str, dict] = {}
    for split in run_doc["splits"]:
        for seed in run_doc["seeds"]:
            path = out / split["name"] / f"seed_{seed}" / "test.json"
            if not path.is_file():
                continue
            doc = read_json(path)
            for name in sorted(set(doc["corpora"])):
                rows = [i for i, c in enumerate(doc["corpora"]) if c == name]
                entry = per_corpus.setdefault(name, {"stages": [], "pooled": {}})
                pooled = entry["pooled"].setdefault(str(seed), {"emotions": [], "probs": [], "speakers": [], "labels": doc["labels"]})
                if pooled["labels"] != doc["labels"]:
                    pooled["mixed"] = True
                emotions = [doc["emotions"][i] for i in rows]
                probs = np.array([doc["probs"][i] for i in rows])
                speakers = [doc["speakers"][i] for i in rows]
                r = corpus_report(emotions, probs, doc["labels"], speakers, corpus=name, model=split["name"])
                entry["stages"].append({"split": split["name"], "seed": seed, **{k: r["overall"][k] for k in ("uar", "accuracy", "macro_f1", "ece", "collapse")}})
                pooled["emotions"] += emotions
                pooled["probs"] += probs.tolist()
                pooled["speakers"] += speakers
    report = {"protocol": run_doc["protocol"], "corpora": {}}
    for name, entry in per_corpus.items():
        stages = entry["stages"]
        summary = {k: seeds_summary([s[k] for s in stages]) for k in ("uar", "accuracy", "macro_f1", "ece")}
        pooled = {seed: corpus_report(p["emotions"], np.array(p["probs"]), p["labels"], p["speakers"], corpus=name,
                                      model=f"{run_doc['protocol']}, seed {seed}")
                  for seed, p in entry["pooled"].items() if not p.get("mixed")}
        report["corpora"][name] = {"summary": summary, "stages": stages, "pooled": pooled}
    write_json(out / "report.json", report)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report_text(report))
    return report


def report_text(report: dict) -> str:
    lines = [f"# Voice run: {report['protocol']}", ""]
    for name, entry in report["corpora"].items():
        s = entry["summary"]
        fmt = lambda k: f"{100 * s[k]['mean']:.1f} +- {100 * s[k]['std']:.1f}"  # noqa: E731
        lines += [f"## {name}: {s['uar']['n']} stages (splits x seeds)", "",
                  f"UAR {fmt('uar')} %, accuracy {fmt('accuracy')} %, macro-F1 {fmt('macro_f1')} %, "
                  f"ECE {s['ece']['mean']:.3f}", "",
                  "| split | seed | UAR | accuracy | macro-F1 | collapse |", "|---|---:|---:|---:|---:|---|"]
        for st in entry["stages"]:
            lines.append(f"| {st['split']} | {st['seed']} | {100 * st['uar']:.1f} | {100 * st['accuracy']:.1f} | "
                         f"{100 * st['macro_f1']:.1f} | {st['collapse'] or ''} |")
        lines.append("")
        for seed, pooled in entry["pooled"].items():
            lines += [report_markdown(pooled), ""]
    return "\n".join(lines)


def export_voice(run: str | Path, out: str | Path, *, split: str | None = None, seed: int | None = None,
                 card: dict | None = None, overwrite: bool = False) -> Path:
    """Copy one stage's model of a run to `out` (stem) as a weights file, its card fields added; never
    over a file of the run, nor over an existing file unless `overwrite`."""
    run = Path(run)
    check_targets([("--out", p) for p in voice_paths(out)], [], overwrite, read_folders=[run])
    doc = read_json(run / "run.json")
    split = split or doc["splits"][0]["name"]
    seed = doc["seeds"][0] if seed is None else seed
    stem = run / split / f"seed_{seed}" / "model"
    model, meta = load_voice_model(stem)
    extra = {k: v for k, v in meta.items() if k not in ("kind", "model", "model_options", "labels", "voice", "voice_hash", "sha256", "avemotion_version")}
    extra.update({"exported_from": {"run": str(run), "split": split, "seed": seed}, "corpora": list(doc["stores"]),
                  **(card or {})})
    return save_voice_model(model, out, labels=tuple(meta["labels"]), cfg=VoiceConfig.from_dict(meta["voice"]), extra=extra)


def evaluate_voice(run: str | Path, store: str | Path) -> dict:
    """Score every model of a run on another corpus (a voice store): per stage, mean +- std, and the
    pooled report of each seed's first split. Utterances whose speech is sample for sample one the run
    trained on are left out and counted, whatever the corpus is called. Written to
    RUN/cross/<dataset>-<content digest>/ (two corpora never share a folder)."""
    run = Path(run)
    doc = read_json(run / "run.json")
    corpus = open_store(store)
    seen = _seen_in_training(doc, corpus)
    if seen:
        logger.info(f"{len(seen)} utterances of {corpus.dataset} were in the run's training data: left out")
        corpus = corpus.subset(lambda i: i not in seen)
    out = run / "cross" / f"{corpus.dataset}-{corpus.digest()}"
    stages, pooled = [], {}
    for split in doc["splits"]:
        for seed in doc["seeds"]:
            stem = run / split["name"] / f"seed_{seed}" / "model"
            if not voice_paths(stem)[1].is_file():
                continue
            model, meta = load_voice_model(stem)
            probs = predict_probs(model, corpus)
            r = corpus_report(corpus.emotions, probs, meta["labels"], corpus.speakers, corpus=corpus.dataset,
                              model=f"{split['name']}, seed {seed}")
            stages.append({"split": split["name"], "seed": seed, **{k: r["overall"][k] for k in ("uar", "accuracy", "macro_f1", "ece", "collapse")}})
            pooled.setdefault(str(seed), r)
    if not stages:
        raise ConfigError(f"{run}: no trained voice model to evaluate")
    report = {"protocol": f"{doc['protocol']} run scored on {corpus.dataset}", "seen_in_training": len(seen),
              "corpora": {corpus.dataset: {"summary": {k: seeds_summary([s[k] for s in stages]) for k in ("uar", "accuracy", "macro_f1", "ece")},
                                           "stages": stages, "pooled": pooled}}}
    write_json(out / "report.json", report)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report_text(report))
    return report


def _seen_in_training(doc: dict, corpus: VoiceCorpus) -> set[int]:
    """Indices of `corpus` whose speech equals an utterance of the run's stores (by content digest)."""
    def digest(w):
        return hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest()

    trained = set()
    for info in doc["stores"].values():
        path = Path(info["path"])
        if path.is_dir():
            trained |= {digest(w) for w in open_store(path).waves}
    return {i for i, w in enumerate(corpus.waves) if digest(w) in trained}
