"""Forward time of one clip: PyTorch against onnxruntime on the exported graph (`avemotion export`).

    python bench/bench_onnx.py                        # tiny CFN-SR at 8x48x48, full CFN-SR at 30x224x224
    python bench/bench_onnx.py --setups tiny --repeats 5 --threads 2

A run folder of random weights is written per setup (inference_helpers-style: save_checkpoint),
exported with inference.export.export_run (which checks the logits against PyTorch on 2 random
clips and times both on one clip: medians of --repeats after a warm-up). On a shared machine the
figures are upper bounds; the ratio is measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

from avemotion.config import PreprocessConfig
from avemotion.inference.export import export_run
from avemotion.models import create_model
from avemotion.models.checkpoint import save_checkpoint
from avemotion.utils.io import write_json

SETUPS = {"tiny": ("tiny", 8, 48), "full": ("full", 30, 224)}  # name: (model scale, frames, frame size)


def random_run(root: Path, scale: str, frames: int, size: int) -> Path:
    cfg = PreprocessConfig(num_frames=frames, frame_size=size)
    torch.manual_seed(0)
    extra = {"fold": 0, "epoch": 0, "selection": "val", "selection_metrics": {"val_acc": 0.5, "val_loss": 1.0}}
    save_checkpoint(create_model("cfn_sr", scale=scale), root / "fold_0" / "cfn_sr" / "best", preprocess=cfg, extra=extra)
    write_json(root / "run.json", {"models": ["cfn_sr"], "selection": "val", "preprocess": cfg.to_dict(), "unimodal_dir": "."})
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    print(f"# bench_onnx: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}, {args.threads} torch threads")
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print("| setup | max abs logit diff | PyTorch s / clip | onnxruntime s / clip | ratio |")
    for name in args.setups:
        with tempfile.TemporaryDirectory() as tmp:
            run = random_run(Path(tmp) / "run", *SETUPS[name])
            meta = export_run(run, Path(tmp) / "model.onnx", repeats=args.repeats)
        ratio = meta["torch_s"] / meta["onnxruntime_s"]
        print(f"| cfn_sr {name} {SETUPS[name][1]}x{SETUPS[name][2]}x{SETUPS[name][2]} | {meta['max_abs_diff']:.1e} | "
              f"{meta['torch_s']:.3f} | {meta['onnxruntime_s']:.3f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
