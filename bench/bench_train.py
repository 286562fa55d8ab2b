"""Training-step and inference throughput (clips/s) under each speed setting, against the published settings.

    python bench/bench_train.py                      # CPU: tiny CFN-SR at 8x48x48 and full at 8x112x112
    python bench/bench_train.py --device cuda --scale full --frames 30 --size 224 --batch 16

Settings, each measured in this run on random inputs already on the device (compute only):
  published  fp32, cuDNN disabled (what the published code does)
  fp32       fp32, cuDNN on with benchmark
  bf16       bf16 autocast
  bf16_cl    bf16 autocast + channels_last_3d
  compile    bf16 autocast + channels_last_3d + nn.Module.compile() in place (as training's `--compile`;
             a torch.compile(model) wrapper is skipped by `model.loss`, which calls the inner module)
Achieved TFLOP/s uses 3x the model's counted forward FLOPs per clip (forward + backward); on CUDA it is also
given as a fraction of the GPU's dense bf16 peak (--peak-tflops, H100 SXM: 989).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from datetime import date

import torch
from torch.utils.flop_counter import FlopCounterMode

from avemotion.models import create_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import sync  # noqa: E402

SETTINGS = ("published", "fp32", "bf16", "bf16_cl", "compile")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cfn_sr")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--scale", default="full", choices=["full", "tiny"])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--settings", default="published,fp32,bf16,bf16_cl")
    p.add_argument("--peak-tflops", type=float, default=989.0)
    return p.parse_args(argv)


def make_inputs(args, device):
    video = torch.randn(args.batch, 3, args.frames, args.size, args.size, device=device)
    audio = torch.randn(args.batch, 13, 212, device=device)
    target = torch.randint(0, 8, (args.batch,), device=device)
    return video, audio, target


def flops_per_clip(model, video, audio, target) -> float:
    """3x the counted forward: FlopCounterMode in torch 2.13 overcounts grouped-conv backward."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.loss(video, audio, target)
    return 3 * counter.get_total_flops() / video.shape[0]


def configure(setting: str, model, device):
    """Return (model, compiled in place for "compile", autocast context factory, memory format)."""
    if device.type == "cuda":
        torch.backends.cudnn.enabled = setting != "published"
        torch.backends.cudnn.benchmark = setting != "published"
    bf16 = setting in ("bf16", "bf16_cl", "compile")
    fmt = torch.channels_last_3d if setting in ("bf16_cl", "compile") else torch.contiguous_format
    model = model.to(memory_format=fmt)
    if setting == "compile":
        model.compile()  # in place: forward is compiled, state-dict keys stay plain

    def autocast():
        if bf16:
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    return model, autocast, fmt


def clips_per_second(step, args, device) -> float:
    """`step` timed over --steps runs after --warmup, the device synchronised around them."""
    for _ in range(args.warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync(device)
    return args.batch * args.steps / (time.perf_counter() - start)


def measure(setting: str, args, device) -> float:
    torch.manual_seed(0)
    model = create_model(args.model, scale=args.scale).to(device).train()
    model, autocast, fmt = configure(setting, model, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    video, audio, target = make_inputs(args, device)
    video = video.contiguous(memory_format=fmt)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss, _ = model.loss(video, audio, target)
        loss.backward()
        opt.step()

    return clips_per_second(step, args, device)


def measure_inference(setting: str, args, device) -> float:
    """Eval-mode forward + softmax under inference_mode: what `predict` and evaluation run."""
    torch.manual_seed(0)
    model = create_model(args.model, scale=args.scale).to(device).eval()
    model, autocast, fmt = configure(setting, model, device)
    video, audio, _ = make_inputs(args, device)
    video = video.contiguous(memory_format=fmt)

    def step():
        with torch.inference_mode(), autocast():
            model(video, audio).float().softmax(-1)

    return clips_per_second(step, args, device)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.backends.cudnn.enabled = True
    model = create_model(args.model, scale=args.scale).to(device)
    flops = flops_per_clip(model, *make_inputs(args, device))
    del model
    print(f"# bench_train {date.today()} | {platform.processor() or platform.machine()} | "
          f"{torch.get_num_threads()} threads | torch {torch.__version__} | device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""))
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"# model {args.model} scale={args.scale} input {args.frames}x{args.size}x{args.size} "
          f"batch {args.batch}; fwd+bwd {flops / 1e9:.2f} GFLOP per clip")
    print("| setting | training clips/s | ratio to published | achieved TFLOP/s | inference clips/s | ratio to published |")
    print("|---|---|---|---|---|---|")
    base = None
    for setting in args.settings.split(","):
        rates = measure(setting, args, device), measure_inference(setting, args, device)
        base = base or rates
        tflops = rates[0] * flops / 1e12
        peak = f" ({100 * tflops / args.peak_tflops:.1f}% of peak)" if device.type == "cuda" else ""
        print(f"| {setting} | {rates[0]:.2f} | {rates[0] / base[0]:.2f}x | {tflops:.3f}{peak} | "
              f"{rates[1]:.2f} | {rates[1] / base[1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
