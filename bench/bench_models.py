"""Forward and forward+backward time per clip, and FLOPs per clip, of full-size models on CPU.

    python bench/bench_models.py                      # video and cfn_sr at 30x224x224, batch 1
    python bench/bench_models.py --models cfn_sr --batch 2 --iters 3

Prints the machine, torch version, command and date with the figures. Times are the median over
`--iters` timed runs after one warm-up. FLOPs come from torch.utils.flop_counter.FlopCounterMode,
which counts a multiply-add as 2 FLOPs. Its forward+backward count is inflated for grouped
convolutions (torch 2.13: the backward of a 32-group Conv3d counts 33x its forward instead of 2x),
so the table also gives the usual estimate, 3x the forward. On a shared machine the times are
upper bounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from avemotion.models import create_model
from avemotion.models.summary import count_parameters

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine  # noqa: E402


def inputs(batch: int, frames: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    video = torch.randn(batch, 3, frames, size, size, generator=g)
    audio = torch.randn(batch, 13, 212, generator=g)
    target = torch.randint(8, (batch,), generator=g)
    return video, audio, target


def forward_step(model, video, audio, target) -> None:
    with torch.no_grad():
        model(video, audio)


def train_step(model, video, audio, target) -> None:
    loss, _ = model.loss(video, audio, target)
    loss.backward()
    model.zero_grad(set_to_none=True)


def median_seconds(step, model, batch, iters: int) -> float:
    step(model, *batch)  # warm-up: allocator, kernel selection
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step(model, *batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_flops(step, model, batch) -> int:
    with FlopCounterMode(display=False) as counter:
        step(model, *batch)
    return counter.get_total_flops()


def load_average() -> str:
    # The cores may be shared: a load above the core count means the times are inflated.
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="video,cfn_sr", help="comma-separated registry names")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=2, help="timed runs after one warm-up")
    parser.add_argument("--scale", default="full", choices=("full", "tiny"))
    args = parser.parse_args(argv)

    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {machine()}")
    print(f"torch: {torch.__version__}")
    print(f"load average before (1/5/15 min): {load_average()}")
    print(f"input: batch {args.batch}, video {args.frames}x{args.size}x{args.size}, MFCC 13x212, float32, {args.scale} scale")
    print()
    print("| model | params | forward s/clip | fwd+bwd s/clip | forward GFLOPs/clip | fwd+bwd GFLOPs/clip (counter) | fwd+bwd GFLOPs/clip (3x fwd) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = create_model(name, scale=args.scale)
        batch = inputs(args.batch, args.frames, args.size)
        model.eval()
        fwd = median_seconds(forward_step, model, batch, args.iters) / args.batch
        fwd_flops = count_flops(forward_step, model, batch) / args.batch
        model.train()
        train = median_seconds(train_step, model, batch, args.iters) / args.batch
        train_flops = count_flops(train_step, model, batch) / args.batch
        print(
            f"| {name} | {count_parameters(model):,} | {fwd:.2f} | {train:.2f} | {fwd_flops / 1e9:.1f} | {train_flops / 1e9:.1f} | {3 * fwd_flops / 1e9:.1f} |",
            flush=True,
        )
    print()
    print(f"load average after (1/5/15 min): {load_average()}")


if __name__ == "__main__":
    main()
