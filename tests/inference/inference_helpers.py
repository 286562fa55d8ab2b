"""Hand-made run folders (random tiny models saved with save_checkpoint) and odd input files."""

from __future__ import annotations

from pathlib import Path

import torch

from avemotion import EMOTIONS
from avemotion.config import PreprocessConfig
from avemotion.models import create_model
from avemotion.models.checkpoint import save_checkpoint
from avemotion.run_layout import RunLayout, RunRecord

# small frames keep the tiny models fast on CPU; the run records them like a real run would
TEST_PREPROCESS = PreprocessConfig(num_frames=8, frame_size=48)


def make_run(root: Path, model: str = "cfn_sr", folds=(0, 1), val_acc=None, preprocess=TEST_PREPROCESS,
             unimodal: bool = True, seed: int = 0) -> Path:
    """A run folder like training writes: run.json and fold_K/<stage>/best.* for every fold."""
    torch.manual_seed(seed)
    val_acc = val_acc or {}
    stages = [model] + (["video", "audio"] if unimodal and model not in ("video", "audio") else [])
    for k in folds:
        for stage in stages:
            net = create_model(stage, scale="tiny")
            extra = {"fold": k, "epoch": 0, "selection": "val",
                     "selection_metrics": {"val_acc": val_acc.get(k, 0.5), "val_loss": 1.0}}
            save_checkpoint(net, root / f"fold_{k}" / stage / "best", preprocess=preprocess, extra=extra)
    # through the one writer of run.json, with the fields the readers use: the unimodal folder
    # relative to the run, the class names, the dataset and the preprocessing hash
    RunLayout.for_training(root).write_run(RunRecord(
        training={}, preprocess_hash=preprocess.hash(), folds=tuple({"test": [k]} for k in folds),
        models=(model,), preset="small", selection="val", seed=seed, preprocess=preprocess.to_dict(),
        unimodal_dir=".", labels=tuple(EMOTIONS), dataset="ravdess"))
    return root


def write_audio_only(path: Path, seconds: float = 3.5, rate: int = 44100) -> Path:
    """An AAC-only mp4 (what a phone's voice memo looks like to a video tool)."""
    import av
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        for i in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i : i + 1024]), format="fltp", layout="mono")
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def tone(seconds: float, rate: int = 44100):
    """A voiced-like signal (harmonics with a syllable rhythm) as an AudioTrack."""
    import numpy as np

    from avemotion.inference.media import AudioTrack

    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return AudioTrack((0.1 * voice).astype(np.float32)[None], rate)


def concat_landmarks(csvs: list[Path], out: Path) -> Path:
    """Join per-clip OpenFace CSVs in order: rows are frames, so the joined rows follow the joined video."""
    lines = csvs[0].read_text().splitlines()
    for csv in csvs[1:]:
        lines += csv.read_text().splitlines()[1:]
    out.write_text("\n".join(lines) + "\n")
    return out


def run_predict(monkeypatch, capsys, *args, command=("predict",)) -> tuple[int, str, str]:
    """`avemotion predict ARGS` (`command` instead of predict) in this process, through the real entry
    point: (exit code, stdout, stderr)."""
    import sys

    from avemotion.cli.main import run as cli_main

    monkeypatch.setattr(sys, "argv", ["avemotion", *command, *map(str, args)])
    try:
        cli_main()
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    out, err = capsys.readouterr()
    return code, out, err
