"""Video tensors: uint8 until on the device, then ImageNet-normalised RGB float; training augmentation."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_SCALE = (0.8, 1.4)  # the published range; a box larger than the frame is drawn again
CROP_RATIO = (3 / 4, 4 / 3)
CROP_TRIES = 10  # draws before falling back to the whole frame


def normalize_video(video: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, T, H, W) or (3, T, H, W) RGB -> float32, x/255 then ImageNet RGB mean/std."""
    shape = (3, 1, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, device=video.device).view(shape)
    std = torch.tensor(IMAGENET_STD, device=video.device).view(shape)
    # One float copy, then in place: the clip is the largest tensor of a step before the stem.
    return video.to(torch.float32, copy=True).div_(255.0).sub_(mean).div_(std)


def draw_crop(size: int, rng: np.random.Generator) -> tuple[int, int, int, int, bool]:
    """(y, x, h, w, flip): a random resized crop box inside a size x size frame plus a flip draw.

    The published distribution: area fraction uniform in CROP_SCALE, aspect ratio log-uniform in
    CROP_RATIO; a box that does not fit the frame is rejected and drawn again, up to CROP_TRIES
    times, and then the whole frame is used (the ratio of a square frame is inside CROP_RATIO, so
    the fallback is the frame itself). Capping an oversized box at the frame instead would make
    whole-frame and one-side-full crops far more frequent (41 % and 47 % against 25 % and 6 %)."""
    for _ in range(CROP_TRIES):
        box = fitting_box(size, rng)
        if box is not None:
            break
    else:
        box = (0, 0, size, size)
    return (*box, bool(rng.random() < 0.5))


def fitting_box(size: int, rng: np.random.Generator) -> tuple[int, int, int, int] | None:
    """One draw (y, x, h, w) of the random resized crop, or None when the box does not fit."""
    area = size * size * rng.uniform(*CROP_SCALE)
    ratio = np.exp(rng.uniform(np.log(CROP_RATIO[0]), np.log(CROP_RATIO[1])))
    w = int(round(np.sqrt(area * ratio)))
    h = int(round(np.sqrt(area / ratio)))
    if not (0 < w <= size and 0 < h <= size):
        return None
    y = int(rng.integers(0, size - h + 1))
    x = int(rng.integers(0, size - w + 1))
    return y, x, h, w


def apply_crop(frames: torch.Tensor, box) -> torch.Tensor:
    """frames uint8 (N, 3, S, S) -> the box resized back to S x S (bilinear), flipped if drawn."""
    y, x, h, w, flip = box
    size = frames.shape[-1]
    part = frames[:, :, y:y + h, x:x + w].float()
    out = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False)
    if flip:
        out = out.flip(-1)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def crop_batch(video: torch.Tensor, boxes) -> torch.Tensor:
    """The clip-level crop/flip applied where the batch is (the GPU in training): video uint8
    (B, 3, T, S, S), boxes (B, 5) as drawn by `draw_crop` (a tensor or a list of boxes). Same
    arithmetic as on the loader side.

    One `apply_crop` per clip, on purpose: a single gather-based kernel for the whole batch cannot
    give F.interpolate's pixels (its CPU kernel even changes with the thread count, CUDA fuses
    multiply-adds), and on a GPU the loop is a few memory-bound kernels per clip, small beside a
    training step. Boxes given as a list (the preloaded path) cost no device synchronisation."""
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.tolist()
    out = torch.empty_like(video, memory_format=torch.contiguous_format)
    for i, box in enumerate(boxes):
        out[i] = apply_crop(video[i].permute(1, 0, 2, 3), tuple(int(b) for b in box)).permute(1, 0, 2, 3)
    return out


def augment_video(video: torch.Tensor, mode: str, rng: np.random.Generator) -> torch.Tensor:
    """video uint8 (3, T, S, S). "clip": one crop/flip for every frame (fixed); "frame": a new draw per
    frame (legacy, the published behaviour that makes a clip jitter); "none": unchanged."""
    if mode == "none":
        return video
    size = video.shape[-1]
    frames = video.permute(1, 0, 2, 3)  # (T, 3, S, S)
    if mode == "clip":
        out = apply_crop(frames, draw_crop(size, rng))
    elif mode == "frame":
        out = torch.cat([apply_crop(frames[t:t + 1], draw_crop(size, rng)) for t in range(frames.shape[0])])
    else:
        raise ValueError(f"augment must be 'clip', 'frame' or 'none', got {mode!r}")
    return out.permute(1, 0, 2, 3).contiguous()


# MFCC augmentation, drawn once per clip: "+"-joined parts of AUDIO_AUGMENT_PARTS ("mask+tempo").
# The cache holds MFCCs, not waveforms, so every part acts on the MFCC matrix (docs/results.md):
# "tempo" resamples its time axis (a tempo change without the pitch change of a waveform speed-up),
# "noise" adds Gaussian noise per coefficient (not acoustic noise mixed into the signal).
MFCC_SHIFT = 16  # frames (0.19 s at hop 512 / 44.1 kHz), either way, edges repeated
MFCC_TIME_MASKS, MFCC_TIME_WIDTH = 2, 16  # masks of up to this many frames
MFCC_COEFF_MASKS, MFCC_COEFF_WIDTH = 1, 2  # masks of up to this many coefficients (c0 never)
MFCC_TEMPO = 0.1  # tempo factor drawn uniformly in [1 - MFCC_TEMPO, 1 + MFCC_TEMPO]
MFCC_NOISE = 0.2  # noise std drawn uniformly in [0, MFCC_NOISE] x the clip's std of each coefficient
AUDIO_AUGMENT_PARTS = ("mask", "noise", "tempo")
AUDIO_AUGMENTS = ("none", *AUDIO_AUGMENT_PARTS)  # the single parts; any "+" combination is valid too


def audio_augment_parts(spec: str) -> tuple[str, ...]:
    """"none" -> (); "tempo+mask" -> ("mask", "tempo") (a fixed order: the draws do not depend on
    how the user spelled it). ValueError names an unknown part."""
    if spec == "none":
        return ()
    parts = spec.split("+")
    bad = [p for p in parts if p not in AUDIO_AUGMENT_PARTS]
    if bad or len(set(parts)) != len(parts):
        raise ValueError(f"audio augmentation must be none or '+'-joined parts of {', '.join(AUDIO_AUGMENT_PARTS)}; got {spec!r}")
    return tuple(p for p in AUDIO_AUGMENT_PARTS if p in parts)


def augment_mfcc(mfcc: torch.Tensor, rng: np.random.Generator, parts=("mask",)) -> torch.Tensor:
    """An augmented copy of one clip's MFCC (n_mfcc, F): tempo, then shift and masks, then noise.
    Each part draws from `rng` only when it is on, so "mask" alone draws what it always drew."""
    out = mfcc.clone()
    if "tempo" in parts:
        out = _tempo(out, 1 + float(rng.uniform(-MFCC_TEMPO, MFCC_TEMPO)))
    if "mask" in parts:
        out = _shift_and_mask(out, rng)
    if "noise" in parts:
        level = float(rng.uniform(0, MFCC_NOISE))
        noise = torch.from_numpy(rng.standard_normal(out.shape).astype(np.float32))
        out = out + noise * level * out.std(dim=1, keepdim=True)
    return out


def _tempo(mfcc: torch.Tensor, factor: float) -> torch.Tensor:
    """Frame t of the result is frame c + (t - c) * factor of the input (c the centre), linearly
    interpolated, edges repeated: factor > 1 plays faster (more content in the window)."""
    frames = mfcc.shape[1]
    centre = (frames - 1) / 2
    pos = torch.clamp(centre + (torch.arange(frames, dtype=torch.float32) - centre) * factor, 0, frames - 1)
    lo = pos.floor().long()
    hi = torch.clamp(lo + 1, max=frames - 1)
    w = (pos - lo.float())[None, :]
    return mfcc[:, lo] * (1 - w) + mfcc[:, hi] * w


def _shift_and_mask(mfcc: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A time shift and SpecAugment-style masks; masks hold the clip's own mean of each
    coefficient, so they remove information without adding an out-of-range value."""
    n, frames = mfcc.shape
    shift = int(rng.integers(-MFCC_SHIFT, MFCC_SHIFT + 1))
    index = torch.clamp(torch.arange(frames) - shift, 0, frames - 1)
    out = mfcc[:, index].clone()
    mean = out.mean(dim=1, keepdim=True)
    for _ in range(MFCC_TIME_MASKS):
        width = int(rng.integers(0, MFCC_TIME_WIDTH + 1))
        start = int(rng.integers(0, frames - width + 1))
        out[:, start:start + width] = mean
    for _ in range(MFCC_COEFF_MASKS):
        width = int(rng.integers(0, MFCC_COEFF_WIDTH + 1))
        start = int(rng.integers(1, n - width + 1))
        out[start:start + width] = mean[start:start + width]
    return out
