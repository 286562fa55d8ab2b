"""Like for like with the published preprocessing (issue 10): the legacy landmark crop's pixel box,
the random resized crop's distribution (rejection sampling), librosa's STFT pad mode."""

import math

import numpy as np
import pytest
import torch

from avemotion.config import PreprocessConfig
from avemotion.data.faces import crop_frame, crop_legacy, landmark_box, legacy_box
from avemotion.data.audio import compute_mfcc
from avemotion.data.transforms import CROP_RATIO, CROP_SCALE, CROP_TRIES, augment_video, draw_crop

# ---------------------------------------------------------------- legacy landmark crop


def landmarks(x0, y0, x1, y1) -> np.ndarray:
    """68 points, one frame, whose tight box is (x0, y0, x1, y1); the others lie inside."""
    rng = np.random.default_rng(0)
    points = np.stack([rng.uniform(x0, x1, 68), rng.uniform(y0, y1, 68)], axis=1)
    points[0], points[1] = (x0, y0), (x1, y1)
    return points[None].astype(np.float32)


@pytest.mark.parametrize("box, expected", [
    # 1280x720 -> 224x224: x * 224 / 1280, y * 224 / 720, every edge truncated
    # x: 500.25 -> 87.54 -> 87; 781.75 -> 136.81 -> 136 (rounding up gave 137)
    # y: 200.5 -> 62.38 -> 62; 517.25 -> 160.92 -> 160 (rounding up gave 161)
    ((500.25, 200.5, 781.75, 517.25), (87, 62, 136, 160)),
    # exact pixels stay exact: 640 * 224 / 1280 = 112, 360 * 224 / 720 = 112
    ((320.0, 180.0, 640.0, 360.0), (56, 56, 112, 112)),
    # the far edges at the frame border
    ((0.0, 0.0, 1280.0, 720.0), (0, 0, 224, 224)),
])
def test_legacy_box_truncates_every_edge(box, expected):
    points = landmarks(*box)
    tight = landmark_box(points, np.array([0]), 0)
    assert legacy_box(tight, 1280, 720, 224) == expected


def test_legacy_box_keeps_one_pixel_of_a_thin_box():
    # 700.1 and 700.9 both truncate to column 122: the crop keeps column 122 alone
    assert legacy_box((700.1, 100.0, 700.9, 400.0), 1280, 720, 224)[::2] == (122, 123)


def test_legacy_crop_is_the_truncated_box_of_the_squashed_frame():
    import cv2

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    box = landmark_box(landmarks(500.25, 200.5, 781.75, 517.25), np.array([0]), 0)
    expected = cv2.resize(cv2.resize(frame, (224, 224))[62:160, 87:136], (224, 224))
    assert np.array_equal(crop_legacy(frame, box, 224), expected)
    assert np.array_equal(crop_frame(frame, box, PreprocessConfig(crop="legacy")), expected)


# ---------------------------------------------------------------- random resized crop


def expected_shares(size: int) -> tuple[float, float]:
    """(whole-frame, exactly-one-side-full) probabilities of the published rule, by integration.

    One draw: area fraction s ~ U(CROP_SCALE), log ratio l ~ U(log CROP_RATIO); sides
    size * sqrt(s e^l) and size * sqrt(s e^-l), rounded. A side fits when it rounds to <= size, that is
    s e^(+-l) < hi = ((size + .5) / size)^2, and is full when it rounds to size (s e^(+-l) >= lo too).
    For each l the events are intervals of s; l is integrated on a fine midpoint grid. A draw that
    fits is final; after CROP_TRIES misfits the whole frame is used."""
    a, b = CROP_SCALE
    hi, lo = ((size + 0.5) / size) ** 2, ((size - 0.5) / size) ** 2
    c0, c1 = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    n = 200_000
    l = c0 + (np.arange(n) + 0.5) * (c1 - c0) / n
    top = np.minimum(b, hi * np.exp(-np.abs(l)))  # s below this: both sides fit

    def share(start):
        return np.clip(top - np.maximum(a, start), 0, None).mean() / (b - a)

    fit = share(a)
    width_full, height_full = share(lo * np.exp(-l)), share(lo * np.exp(l))
    both_full = share(np.maximum(lo * np.exp(-l), lo * np.exp(l)))
    found = 1 - (1 - fit) ** CROP_TRIES
    whole = (1 - fit) ** CROP_TRIES + both_full / fit * found
    one_side = (width_full + height_full - 2 * both_full) / fit * found
    return whole, one_side


def tolerance(p: float, n: int) -> float:
    """4.5 binomial standard deviations: a correct sampler fails this less than once in 10^5 seeds."""
    return 4.5 * math.sqrt(p * (1 - p) / n)


def test_crop_draw_follows_the_rejection_rule():
    size, n = 224, 20_000
    rng = np.random.default_rng(0)
    boxes = np.array([draw_crop(size, rng) for _ in range(n)], dtype=np.int64)
    y, x, h, w, flip = boxes.T
    assert (y >= 0).all() and (x >= 0).all() and (y + h <= size).all() and (x + w <= size).all()
    whole, one_side = expected_shares(size)
    assert 0.23 < whole < 0.28 and 0.04 < one_side < 0.08  # the rule's own values, about 25 % and 6 %
    assert abs(np.mean((h == size) & (w == size)) - whole) < tolerance(whole, n)
    assert abs(np.mean((h == size) != (w == size)) - one_side) < tolerance(one_side, n)
    assert abs(flip.mean() - 0.5) < tolerance(0.5, n)


def whole_frame_shares(mode: str, clips: int, frames: int, size: int) -> np.ndarray:
    """Per clip, which frames came out as the whole frame (unchanged or exactly mirrored)."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    frame = torch.stack([cols * 30, rows * 30, rows * 0]).to(torch.uint8)  # no crop can keep it
    video = frame[:, None].repeat(1, frames, 1, 1)
    rng = np.random.default_rng(2)
    out = torch.stack([augment_video(video, mode, rng) for _ in range(clips)])  # (clips, 3, T, S, S)
    same = (out == video).flatten(3).all(-1).all(1)
    mirrored = (out == video.flip(-1)).flatten(3).all(-1).all(1)
    return (same | mirrored).numpy()


@pytest.mark.parametrize("mode, clips, frames", [("clip", 2000, 2), ("frame", 40, 50)])
def test_both_augmentation_modes_use_the_rejection_rule(mode, clips, frames):
    size = 8
    whole = whole_frame_shares(mode, clips, frames, size)
    expected, _ = expected_shares(size)
    n = clips if mode == "clip" else clips * frames
    assert abs(whole.mean() - expected) < tolerance(expected, n)
    if mode == "clip":
        assert (whole == whole[:, :1]).all()  # one draw for every frame of a clip
    else:
        assert (whole != whole[:, :1]).any()


# ---------------------------------------------------------------- librosa STFT pad mode


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    cfg = PreprocessConfig()
    rng = np.random.default_rng(3)
    t = np.arange(cfg.audio_samples) / cfg.sample_rate
    # loud at both ends, so the padding shows in the edge frames
    return (np.sin(2 * np.pi * 440 * t) + 0.3 * rng.standard_normal(t.size)).astype(np.float32)


def direct_mfcc(samples: np.ndarray, pad_mode: str) -> np.ndarray:
    import librosa

    cfg = PreprocessConfig()
    return librosa.feature.mfcc(y=samples, sr=cfg.sample_rate, n_mfcc=13, n_fft=2048, hop_length=512,
                                n_mels=128, window="hann", center=True, pad_mode=pad_mode)


@pytest.mark.parametrize("pad", ["reflect", "constant"])
def test_mfcc_uses_the_configured_stft_pad(samples, pad):
    ours = compute_mfcc(samples, PreprocessConfig(stft_pad=pad))
    direct = direct_mfcc(samples, pad)
    assert ours.shape == direct.shape == (13, 212)
    assert np.array_equal(ours, direct.astype(np.float32))


def test_reflect_and_constant_differ_only_on_the_edge_frames(samples):
    reflect = compute_mfcc(samples, PreprocessConfig(stft_pad="reflect"))
    constant = compute_mfcc(samples, PreprocessConfig())
    # frame t covers samples [512 t - 1024, 512 t + 1024): frames 0, 1 and 210, 211 reach the padding
    edges = [0, 1, 210, 211]
    for t in edges:
        assert np.abs(reflect[:, t] - constant[:, t]).max() > 1.0, t
    inner = np.setdiff1d(np.arange(212), edges)
    assert np.allclose(reflect[:, inner], constant[:, inner], atol=1e-3)


def test_stft_pad_is_validated_and_keys_the_cache():
    with pytest.raises(ValueError, match="stft_pad must be one of") as err:
        PreprocessConfig(stft_pad="edge")
    assert "\n" not in str(err.value)
    reflect = PreprocessConfig(stft_pad="reflect")
    assert reflect.hash() != PreprocessConfig().hash()
    assert PreprocessConfig.from_dict(reflect.to_dict()) == reflect


def test_prepare_command_passes_stft_pad(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import avemotion.data.prepare
    from avemotion.cli.main import app

    seen = []

    def fake_prepare(data_dir, out, cfg, **kwargs):
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(avemotion.data.prepare, "prepare", fake_prepare)
    for option in ([], ["--stft-pad", "reflect"]):
        CliRunner().invoke(app, ["prepare", str(tmp_path), "--out", str(tmp_path / "cache"), *option])
    assert [cfg.stft_pad for cfg in seen] == ["constant", "reflect"]


def test_prepare_legacy_sets_the_published_preprocessing_and_explicit_options_win(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import avemotion.data.prepare
    from avemotion.cli.main import app

    seen = []
    monkeypatch.setattr(avemotion.data.prepare, "prepare", lambda d, o, cfg, **k: seen.append(cfg))
    for option in (["--legacy"], ["--legacy", "--crop", "fixed"], []):
        result = CliRunner().invoke(app, ["prepare", str(tmp_path), "--out", str(tmp_path / "c"), *option])
        assert result.exit_code in (0, 1)  # the fake prepare returns nothing to summarise
    assert [(c.crop, c.stft_pad) for c in seen] == [("legacy", "reflect"), ("fixed", "reflect"), ("fixed", "constant")]


def test_prepare_command_refuses_an_unknown_stft_pad(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "prepare", str(tmp_path), "--out",
                             str(tmp_path / "cache"), "--stft-pad", "edge"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: stft_pad must be one of ('constant', 'reflect'), got 'edge'"]
