"""Face detectors on real faces: found, false faces on sideways frames, speed, crop geometry.

    python bench/bench_faces.py                      # all detectors, 3 repeats
    python bench/bench_faces.py --repeats 5 --detectors dlib haar

Frames: the 8 real RAVDESS frames (1280x720, shared/data/ravdess-samples) and 15 evenly sampled
frames of each of the 3 real CREMA-D clips (480x360): 53 real faces, one per frame. Sideways: the
same frames turned 90 degrees either way, as a phone video without its rotation tag shows them
(a frontal face on its side: any box reported there is on hair, an ear or the background).
Geometry: IoU of each detector's square crop box (margin 0.25, the fixed crop) with the crop box
of the 68 landmark points (the RAVDESS CSV rule): on the real frames the points are dlib's 68-point
predictor (dlib68; no OpenFace CSV exists for them); on synthetic clips, the CSV's own points.
Face stage: decode + detect + crop (`face_plan.window_videos`) of a whole 3 s clip at 30 x 224 x
224, the real RAVDESS-format clip (1280x720) and 3.0 s of CREMA-D (480x360). Medians over
--repeats after one warm-up; on a shared machine they are upper bounds.
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

from avemotion.config import PreprocessConfig
from avemotion.data import detectors, faces
from avemotion.data.face_plan import sample_times, window_videos
from avemotion.data.media import probe, stream_frames

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RAVDESS_FRAMES = SHARED / "ravdess-samples" / "frames_02-01-03-02-02-01-01"
RAVDESS_CLIP = SHARED / "ravdess-samples" / "Actor_01" / "01-01-03-02-02-01-01.mp4"
CREMA = SHARED / "crema-d"


def real_frames() -> list[tuple[str, np.ndarray]]:
    import cv2

    frames = [("ravdess 1280x720", cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in sorted(RAVDESS_FRAMES.glob("*.jpeg"))]
    for clip in sorted(CREMA.glob("*.flv")):
        times = sample_times(0.0, probe(clip).duration, 15)
        frames += [("crema-d 480x360", rgb) for _, rgb, _ in stream_frames(clip, times)]
    return frames


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


CPU_TIMES: dict = {}  # label -> median process CPU seconds of the last timed() call under it


def timed(fn, repeats: int, label=None) -> tuple[float, object]:
    """Median wall seconds over `repeats` after a warm-up; the median CPU seconds of this process go
    to CPU_TIMES[label] (on a loaded machine wall time includes waiting for a core, CPU time less so)."""
    out = fn()  # warm-up (model loading, caches)
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if label is not None:
        CPU_TIMES[label] = statistics.median(cpu)
    return statistics.median(times), out


def detection_table(frames, names, repeats: int) -> dict:
    """Per detector: frames with exactly one face, ms per frame by resolution, faces on sideways frames."""
    rows = {}
    for name in names:
        kinds = sorted({k for k, _ in frames})
        ms = {}
        for kind in kinds:
            group = [f for k, f in frames if k == kind]
            seconds, _ = timed(lambda: [faces.detect_faces(f, name) for f in group], repeats)
            ms[kind] = 1000 * seconds / len(group)
        found = [faces.detect_faces(f, name) for _, f in frames]
        sideways = [faces.detect_faces(np.ascontiguousarray(np.rot90(f, k)), name) for _, f in frames for k in (1, 3)]
        rows[name] = {"one_face": sum(len(b) == 1 for b in found), "any_face": sum(len(b) > 0 for b in found),
                      "ms": ms, "sideways_with_face": sum(len(b) > 0 for b in sideways), "sideways": len(sideways),
                      "boxes": found}
    return rows


def real_geometry(frames, rows, margin: float) -> dict:
    """IoU of each detector's crop box with the crop box of dlib's 68 points on the same face."""
    out = {}
    reference = []
    for _, f in frames:
        hog = detectors.detect_hog(f)
        reference.append(None if not len(hog) else faces.square_box(detectors.points_box(detectors.landmarks68(f, hog[0])), margin))
    for name, row in rows.items():
        values = [iou(faces.square_box(b[0], margin), ref) for b, ref in zip(row["boxes"], reference) if len(b) and ref is not None]
        out[name] = values
    return out


def synth_geometry(names, margin: float) -> dict:
    """IoU with the CSV's own landmark crop box on synthetic clips (drawn faces, known points)."""
    from avemotion.data.synth import SynthOptions, clip_names, synth_clip

    opts = SynthOptions(actors=4, seed=0, width=320, height=240, statements=1, repetitions=1)
    out = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for name_tuple in clip_names(opts)[::6]:
            path = synth_clip(Path(tmp), name_tuple, opts)
            csv = next(Path(tmp).rglob(path.stem + ".csv"))
            points = faces.read_landmarks(csv)
            good = faces.good_rows(points)
            times = sample_times(0.0, probe(path).duration, 6)
            for i, rgb, _ in stream_frames(path, times):
                truth = faces.square_box(faces.landmark_box(points, good, i), margin)
                for name in names:
                    found = faces.detect_faces(rgb, name)
                    out[name].append(iou(faces.square_box(found[0], margin), truth) if len(found) else 0.0)
    return out


def face_stage(names, repeats: int) -> dict:
    """Seconds of decode + detect + crop for a whole 3 s clip at 30 x 224 x 224."""
    clips = {"ravdess 1280x720 (3.47 s)": RAVDESS_CLIP, "crema-d 480x360 (2.2 s)": CREMA / "1001_DFA_ANG_XX.flv"}
    out = {}
    for label, clip in clips.items():
        duration = probe(clip).duration
        for name in names:
            cfg = PreprocessConfig(detector=name, short_clip="pad")
            seconds, _ = timed(lambda: window_videos(clip, cfg, [(0.0, duration)], None), repeats, (label, name))
            out[(label, name)] = seconds
        decode, _ = timed(lambda: sum(1 for _ in stream_frames(clip, sample_times(0.0, duration, 30))), repeats,
                          (label, "decode only"))
        out[(label, "decode only")] = decode
    return out


def summary(values) -> str:
    if not values:
        return "n/a"
    return f"mean {np.mean(values):.3f}, min {np.min(values):.3f} (n={len(values)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--detectors", nargs="+", default=["dlib", "dlib68", "haar"])
    args = ap.parse_args()
    names = [n for n in args.detectors if n != "dlib68" or detectors.landmarks_available()]
    import dlib

    print(f"# bench_faces: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}, dlib {dlib.__version__}")
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    frames = real_frames()
    rows = detection_table(frames, names, args.repeats)
    print(f"\n## {len(frames)} real frames (one face each); sideways = the same frames turned 90 degrees both ways")
    print("| detector | frames with exactly one face (with any) | " + " | ".join(f"ms / frame {k}" for k in sorted(rows[names[0]]["ms"]))
          + " | sideways frames with a face |")
    for name, row in rows.items():
        ms = " | ".join(f"{row['ms'][k]:.1f}" for k in sorted(row["ms"]))
        print(f"| {name} | {row['one_face']}/{len(frames)} ({row['any_face']}) | {ms} | {row['sideways_with_face']}/{row['sideways']} |")
    margin = PreprocessConfig().margin
    print("\n## crop-box IoU with the 68-point crop box (real: dlib's predicted points; synthetic: the CSV's)")
    real = real_geometry(frames, rows, margin)
    synth = synth_geometry(names, margin)
    for name in names:
        print(f"| {name} | real: {summary(real[name])} | synthetic: {summary(synth[name])} |")
    print("\n## face stage of one clip, 30 x 224 x 224 (decode + detect + crop), seconds")
    print("| clip | detector | wall (median) | CPU of this process (median) |")
    for (label, name), seconds in face_stage(names, args.repeats).items():
        print(f"| {label} | {name} | {seconds:.3f} | {CPU_TIMES[(label, name)]:.3f} |")


if __name__ == "__main__":
    main()
