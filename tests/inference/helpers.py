"""Hand-made run folders (random tiny models saved with save_checkpoint) and odd input files."""

from __future__ import annotations

from pathlib import Path

import torch

from avemotion.config import PreprocessConfig
from avemotion.models import create_model
from avemotion.models.checkpoint import save_checkpoint
from avemotion.utils.io import write_json

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
    write_json(root / "run.json", {"models": [model], "preset": "small", "selection": "val",
                                   "preprocess": preprocess.to_dict(), "unimodal_dir": str(root)})
    return root
