"""Latency of `avemotion predict` on one 3 s clip on CPU, split into decode, face, MFCC and model,
for each face detector (the default `dlib` against `haar`, measured in the same run).

    python bench/bench_predict.py                    # tiny CFN-SR at 8x48x48 and full CFN-SR at 30x224x224
    python bench/bench_predict.py --repeats 3 --threads 2 --detectors dlib,dlib68,haar

The clip is 3.0 s of real CREMA-D video (480x360, 29.97 fps, MP3 audio re-encoded to AAC in an mp4),
made from the shared clips. The stages call the data layer's own functions (stream_frames; the face
stage as prepare and predict run it, `face_plan.window_videos`: decode the sampled frames, detect,
follow, smooth, crop; decode_audio + audio_window + compute_mfcc) and the model's forward pass;
"total" is `Recognizer.predict` end to end on a run folder of random weights with that detector
(checkpoint loading excluded), so it also holds probing and conversions. Figures are medians over
--repeats runs after one warm-up; on a shared machine they are upper bounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avemotion.config import PreprocessConfig
from avemotion.data.audio import audio_window, compute_mfcc, decode_audio
from avemotion.data.face_plan import sample_times, window_videos
from avemotion.data.media import probe, stream_frames
from avemotion.data.transforms import normalize_video
from avemotion.inference import Recognizer
from avemotion.inference import media
from avemotion.models import create_model
from avemotion.models.checkpoint import save_checkpoint

CREMA = Path(__file__).resolve().parents[2] / "shared" / "data" / "crema-d"
SETUPS = {  # name: (model scale, frames, frame size)
    "tiny": ("tiny", 8, 48),
    "full": ("full", 30, 224),
}


def make_clip(out: Path, seconds: float = 3.0) -> Path:
    """The first `seconds` of the CREMA-D clips joined (real face and voice), as an mp4."""
    joined = media.concat_videos(sorted(CREMA.glob("*.flv"))[:2], out.with_name("joined.mp4"))
    fps = media.video_fps(joined)
    frames = [f for t, f in media.iter_frames(joined) if t < seconds - 1e-6]
    audio = media.read_audio(joined)
    audio = media.AudioTrack(audio.samples[:, : round(seconds * audio.rate)], audio.rate)
    return media.write_mp4(out, frames, fps, audio)


def timed(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up: imports, Haar cascade, librosa/numba compilation, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def stage_times(clip: Path, cfg: PreprocessConfig, model, repeats: int, detectors: list[str]) -> dict[str, float]:
    duration = probe(clip).duration
    times = sample_times(0.0, duration, cfg.num_frames)
    out = {}
    out["decode video"], decoded = timed(lambda: list(stream_frames(clip, times)), repeats)
    out["decode audio"], audio = timed(lambda: decode_audio(clip, cfg.sample_rate), repeats)

    for detector in detectors:
        dcfg = PreprocessConfig.from_dict({**cfg.to_dict(), "detector": detector})
        out[f"face stage, {detector} (decode + detect + crop)"], _ = timed(
            lambda: window_videos(clip, dcfg, [(0.0, duration)], None), repeats)
    out["MFCC"], mfcc = timed(lambda: compute_mfcc(audio_window(clip, audio, 0.0, cfg), cfg), repeats)
    # the forward pass's cost does not depend on the pixels
    v = torch.randint(0, 256, (1, 3, cfg.num_frames, cfg.frame_size, cfg.frame_size), dtype=torch.uint8)
    a = torch.from_numpy(mfcc[None])
    with torch.inference_mode():
        out["model"], _ = timed(lambda: torch.softmax(model(normalize_video(v), a), -1), repeats)
    return out


def bench(setup: str, clip: Path, repeats: int, workdir: Path, detectors: list[str]) -> dict[str, float]:
    scale, frames, size = SETUPS[setup]
    cfg = PreprocessConfig(num_frames=frames, frame_size=size)
    torch.manual_seed(0)
    model = create_model("cfn_sr", scale=scale).eval()
    run = workdir / f"run_{setup}"
    save_checkpoint(model, run / "fold_0" / "cfn_sr" / "best", preprocess=cfg)
    figures = stage_times(clip, cfg, model, repeats, detectors)
    for detector in detectors:
        recognizer = Recognizer.from_run(run, detector=detector)
        figures[f"total, {detector} (Recognizer.predict)"], _ = timed(lambda: recognizer.predict(clip), repeats)
    return figures


def header(args) -> str:
    return "\n".join([
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores visible, torch threads {torch.get_num_threads()}, "
        f"{platform.processor() or platform.platform()}",
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
        f"command: python {' '.join(sys.argv)}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default="tiny,full", help="comma-separated: tiny, full")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the target is 2 cores)")
    parser.add_argument("--detectors", default="dlib,haar", help="comma-separated face detectors to compare")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(header(args))
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip3s.mp4")
        info = probe(clip)
        print(f"clip: {info.duration:.2f} s, {info.width}x{info.height}, {info.fps:.2f} fps, audio {info.has_audio}")
        detectors = args.detectors.split(",")
        rows = {s: bench(s, clip, args.repeats, Path(tmp), detectors) for s in args.setups.split(",")}
    stages = list(next(iter(rows.values())))
    print()
    print("| stage (median s) | " + " | ".join(f"{s}: {SETUPS[s][1]}x{SETUPS[s][2]}x{SETUPS[s][2]}" for s in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(f"{rows[s][stage]:.3f}" for s in rows) + " |")
    base = detectors[-1]
    for other in detectors[:-1]:
        for s in rows:
            ratio = rows[s][f"total, {base} (Recognizer.predict)"] / rows[s][f"total, {other} (Recognizer.predict)"]
            print(f"{s}: total with {base} / total with {other} = {ratio:.2f}x")


if __name__ == "__main__":
    main()
