"""Speed of the shipped voice model (voice-v1) on one CPU core: seconds of compute per second of
audio (the real-time factor), split into decoding (+ activity detector and level), features and the
model, against decoding alone measured in the same run (the ratio is what voice-v1 adds to reading
the file).

    python bench/bench_voice.py                       # 12 real utterances: 4 RAVDESS, 4 EmoDB, 4 nEMO
    python bench/bench_voice.py --repeats 5 --weights voice-v1

CPU time of this process (time.process_time), not wall time, so a busy machine changes little; one
thread. Figures are medians over --repeats passes after one warm-up pass.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def files() -> list[Path]:
    rav = sorted((SHARED / "ravdess-speech" / "Actor_01").glob("*.flac"))[::15][:4]
    emo = sorted((SHARED / "emodb").glob("*.flac"))[::130][:4]
    nemo = sorted((SHARED / "nemo" / "audio").glob("*.opus"))[::1100][:4]
    return rav + emo + nemo


def one_pass(rec, paths) -> dict:
    from avemotion.data.voice import decode_voice, prepare_wave

    out = {"decode": 0.0, "features+model": 0.0, "audio_s": 0.0}
    for path in paths:
        t = time.process_time()
        wave = decode_voice(path, rec.cfg)
        utt = prepare_wave(path, wave, rec.cfg)
        out["decode"] += time.process_time() - t
        t = time.process_time()
        rec.probabilities(utt.wave)
        out["features+model"] += time.process_time() - t
        out["audio_s"] += len(wave) / rec.cfg.sample_rate
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from avemotion.inference.pretrained import get_weights

    entry = get_weights(args.weights)
    rec = entry.load()
    paths = files()
    one_pass(rec, paths)  # warm-up: imports, openSMILE's start
    runs = [one_pass(rec, paths) for _ in range(args.repeats)]
    audio = runs[0]["audio_s"]
    decode = statistics.median(r["decode"] for r in runs)
    model = statistics.median(r["features+model"] for r in runs)
    print(f"# bench_voice {datetime.date.today()} {platform.machine()} {platform.processor() or ''} torch {torch.__version__}, 1 thread")
    print(f"{entry.name} ({rec.meta['model']}) on {len(paths)} real utterances, {audio:.1f} s of audio, median of {args.repeats}")
    print("| stage | CPU s | real-time factor (CPU s per audio s) |")
    print("|---|---:|---:|")
    print(f"| decode + detector + level (baseline) | {decode:.3f} | {decode / audio:.4f} |")
    print(f"| features + model | {model:.3f} | {model / audio:.4f} |")
    print(f"| total | {decode + model:.3f} | {(decode + model) / audio:.4f} |")
    print(f"ratio total / baseline: {(decode + model) / decode:.1f}x; {audio / (decode + model):.0f}x faster than real time on one core")


if __name__ == "__main__":
    main()
