"""The face detectors (data.detectors) on real faces: the 8 real RAVDESS frames and the real
CREMA-D clips in ../shared/data (RAVDESS: CC BY-NC-SA 4.0; CREMA-D: ODbL / DbCL; see their READMEs)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data import detectors, faces
from avemotion.data.face_plan import sample_times
from avemotion.data.media import probe, stream_frames
from avemotion.data.preprocess import preprocess
from avemotion.errors import ConfigError, InputError

sys.path.insert(0, str(Path(__file__).parent))
from odd_media import crema_audio, crema_frames, write_av  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RAVDESS_FRAMES = SHARED / "ravdess-samples" / "frames_02-01-03-02-02-01-01"
RAVDESS_CLIP = SHARED / "ravdess-samples" / "Actor_01" / "01-01-03-02-02-01-01.mp4"


@pytest.fixture(scope="module")
def real_frames(crema_dir) -> list[np.ndarray]:
    """8 RAVDESS frames (1280x720) and 6 evenly sampled frames of each CREMA-D clip (480x360)."""
    import cv2

    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(RAVDESS_FRAMES.glob("*.jpeg"))]
    for clip in sorted(crema_dir.glob("*.flv")):
        frames += [rgb for _, rgb, _ in stream_frames(clip, sample_times(0.0, probe(clip).duration, 6))]
    assert len(frames) == 8 + 18
    return frames


def plausible_face(box, frame) -> bool:
    """A seated actor's face: inside the frame, 25-60 % of its height, centred horizontally."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    return (x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h and 0.25 * h < side < 0.6 * h
            and 0.25 * w < (x0 + x1) / 2 < 0.75 * w)


def test_default_detector_is_dlib_hog_with_its_major_version():
    assert PreprocessConfig().detector == f"dlib@{detectors.DLIB_MAJOR}"
    assert PreprocessConfig(detector="dlib").detector == PreprocessConfig().detector
    assert PreprocessConfig(detector="dlib68").detector == f"dlib68@{detectors.DLIB_MAJOR}"


def test_haar_setting_is_recorded_as_before_and_hashes_apart_from_the_default():
    """A cache made before the default changed says "haar": same settings dict, so the same hash."""
    haar = PreprocessConfig(detector="haar")
    assert haar.to_dict()["detector"] == "haar"
    assert PreprocessConfig.from_dict(haar.to_dict()).hash() == haar.hash()
    assert haar.hash() != PreprocessConfig().hash() != PreprocessConfig(detector="dlib68").hash()


@pytest.mark.parametrize("setting", ["yolo", "haar@4", "dlib@x"])
def test_unknown_detector_setting_is_refused(setting):
    with pytest.raises(ValueError, match="detector"):
        PreprocessConfig(detector=setting)


def test_settings_of_another_dlib_major_version_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"made with dlib 19\.x, dlib 20\.[0-9.]+ is installed") as err:
        detectors.check("dlib@19")
    assert "\n" not in str(err.value)


def test_dlib_finds_the_one_face_in_every_real_frame(real_frames):
    for frame in real_frames:
        boxes = faces.detect_faces(frame, "dlib")
        assert len(boxes) == 1 and plausible_face(boxes[0], frame)


@pytest.mark.parametrize("turns", [1, 3])
def test_sideways_real_frames_show_no_face(real_frames, turns):
    """A frontal face on its side (rotated 90 degrees, no rotation tag): hair, ears and background
    score under the threshold, so nothing is reported."""
    for frame in real_frames:
        assert len(faces.detect_faces(np.ascontiguousarray(np.rot90(frame, turns)), "dlib")) == 0


def test_sideways_video_without_rotation_tag_is_no_face(tmp_path, crema_dir):
    angry = crema_dir / "1001_DFA_ANG_XX.flv"
    sideways = [np.ascontiguousarray(np.rot90(f)) for f in crema_frames(angry, (240, 180))]
    path = write_av(tmp_path / "sideways.mp4", sideways, 30, audio=crema_audio(angry))
    with pytest.raises(InputError) as err:
        preprocess(path, PreprocessConfig(num_frames=8, frame_size=48, short_clip="pad"))
    assert err.value.code == "no_face"


@pytest.mark.parametrize("clip", ["ravdess", "crema-d"])
def test_default_crop_contains_the_real_face(clip, crema_dir):
    path = RAVDESS_CLIP if clip == "ravdess" else crema_dir / "1001_DFA_HAP_XX.flv"
    cfg = PreprocessConfig(num_frames=10, frame_size=64, short_clip="pad")
    arrays = preprocess(path, cfg)
    assert arrays.face_source == "detector" and arrays.video.shape == (10, 64, 64, 3)
    width, height = probe(path).width, probe(path).height
    for box in arrays.boxes:
        assert plausible_face(box, np.zeros((height, width)))
        sq = faces.square_box(box, cfg.margin)
        assert sq[0] <= box[0] and sq[1] <= box[1] and sq[2] >= box[2] and sq[3] >= box[3]
    centre = arrays.video[:, 24:40, 24:40].astype(int)  # skin, not the background (R > G)
    assert (centre[..., 0] > centre[..., 1]).mean() > 0.8


def test_landmarks68_are_68_points_inside_the_face_box(real_frames):
    for frame in real_frames:
        (box,) = detectors.detect_hog(frame)
        points = detectors.landmarks68(frame, box)
        assert points.shape == (68, 2)
        side = box[2] - box[0]
        lo, hi = box[:2] - 0.25 * side, box[2:] + 0.25 * side  # the chin may reach below the HOG box
        assert (points >= lo).all() and (points <= hi).all()
        # the scheme of the OpenFace CSVs: jaw 0-16 left to right, nose tip 30 between the eyes (36-47)
        assert points[0, 0] < points[8, 0] < points[16, 0]
        assert points[36:48, 1].mean() < points[30, 1] < points[48:68, 1].mean()


def test_dlib68_box_is_the_tight_box_of_its_points(real_frames):
    frame = real_frames[0]
    (box,) = faces.detect_faces(frame, "dlib68")
    points = detectors.landmarks68(frame, detectors.detect_hog(frame)[0])
    np.testing.assert_allclose(box, [points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])


def test_smoothing_steadies_a_jittering_box_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    steady = [np.array([100, 100, 200, 200], np.float32) + rng.integers(-12, 13, 4) for _ in range(30)]
    own = steady[:10] + [None] + steady[11:]
    out = faces.smooth_boxes(own)
    assert out[10] is None  # a frame without its own box stays without one (filled later)
    jitter = lambda boxes: np.std([b for b in boxes if b is not None], axis=0).mean()  # noqa: E731
    assert jitter(out) < 0.75 * jitter(own)  # median of 5: about 0.6 for independent jitter
    moving = [np.array([10 * p, 0, 10 * p + 100, 100], np.float32) for p in range(30)]
    r = faces.SMOOTH_RADIUS  # a steady motion is followed exactly where the median window is whole
    np.testing.assert_allclose(np.array(faces.smooth_boxes(moving))[r:-r], np.array(moving)[r:-r])


def test_smoothing_does_not_mix_the_boxes_of_two_shots():
    """A cut: the followed face is at the left, then (another shot) at the right of the frame."""
    left, right = np.array([0, 0, 100, 100], np.float32), np.array([400, 0, 500, 100], np.float32)
    own = [left] * 5 + [right] * 5
    np.testing.assert_array_equal(np.array(faces.smooth_boxes(own)), np.array(own))


def test_haar_boxes_are_not_smoothed_nor_landmark_csv_boxes():
    assert not faces.smooths(PreprocessConfig(detector="haar"), None)
    assert not faces.smooths(PreprocessConfig(), np.zeros((5, 68, 2)))
    assert faces.smooths(PreprocessConfig(), None)


def crop_iou(a, b, margin: float = 0.25) -> float:
    """IoU of the square crop boxes (fixed crop rule) of two tight face boxes."""
    a, b = faces.square_box(a, margin), faces.square_box(b, margin)
    ix, iy = max(0.0, min(a[2], b[2]) - max(a[0], b[0])), max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


def test_dlib68_crop_matches_the_csv_rule_on_synthetic_clips(synth_corpus):
    """Drawn faces whose 68 points are known (the CSVs synth writes): the crop of the 68 predicted
    points lies on the CSV's crop, closer than the HOG box does."""
    from avemotion.data.datasets import scan_dataset

    records = scan_dataset(synth_corpus).records[::12]
    found = {"dlib68": [], "dlib": []}
    for rec in records:
        csv = preprocess(rec.path, PreprocessConfig(num_frames=8, frame_size=48), landmarks=rec.landmarks)
        for name, values in found.items():
            arrays = preprocess(rec.path, PreprocessConfig(num_frames=8, frame_size=48, detector=name))
            values += [crop_iou(a, b) for a, b in zip(arrays.boxes, csv.boxes)]
    assert min(found["dlib68"]) > 0.6 and np.mean(found["dlib68"]) > 0.75
    assert np.mean(found["dlib68"]) > np.mean(found["dlib"])


def test_windows_together_equal_each_window_alone_with_the_default_detector(synth_corpus, monkeypatch):
    """Every other sampled position of a window is searched, each window its own positions: shared
    frames are detected once and a window's boxes do not depend on the other windows."""
    from avemotion.data.datasets import scan_dataset

    rec = scan_dataset(synth_corpus).records[7]
    cfg = PreprocessConfig(num_frames=30, frame_size=32)
    windows = [(0.0, 2.96), (0.1, 3.06), (0.05, 2.0)]
    alone = [preprocess(rec.path, cfg, windows=[w])[0] for w in windows]
    calls = []
    real_detect = faces.detect_faces
    monkeypatch.setattr(faces, "detect_faces", lambda frame, *args: calls.append(1) or real_detect(frame, *args))
    together = preprocess(rec.path, cfg, windows=windows)
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.video, b.video)
    times = np.concatenate([sample_times(s, e, 30) for s, e in windows])
    search = np.tile(faces.searched(cfg, None), len(windows))
    assert search.sum() == 3 * 16  # positions 0, 2, ..., 28 and 29
    looked = [i for i, _, positions in stream_frames(rec.path, times) if search[positions].any()]
    assert len(calls) == len(looked) < len(times) / 2


def test_prepare_detector_option_is_recorded_in_the_cache(tmp_path, crema_dir):
    import subprocess

    exe = Path(sys.executable).with_name("avemotion")
    args = [str(exe), "prepare", str(crema_dir), "--out", str(tmp_path), "--frames", "4", "--size", "32",
            "--pad-short", "--workers", "1"]
    done = subprocess.run(args + ["--detector", "haar"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from avemotion.data.cache import open_cache

    (config,) = tmp_path.glob("*/config.json")
    cache = open_cache(config.parent)
    assert cache.config.detector == "haar" and config.parent.name == cache.config.hash()
    bad = subprocess.run(args + ["--detector", "yolo"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "detector must be one of" in bad.stderr
