"""Training presets: plain dataclasses, resolved against the cache and saved with every run.

`paper` is the published recipe (SPEC 5); `small` trains tiny models on 2 CPU cores in minutes
(demo and tests). Every field can be overridden; the resolved config goes into run.json.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from avemotion.config import LEGACY_PREPROCESS, PreprocessConfig
from avemotion.data.dataset import AUGMENTS
from avemotion.data.transforms import audio_augment_parts
from avemotion.errors import ConfigError
from avemotion.utils.fields import known_fields

SELECTIONS = ("val", "test-legacy", "last")
RECIPES = ("two-stage", "end-to-end")
PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")
LR_SCHEDULES = ("constant", "cosine")
MFCC_NORMS = ("none", "train", "speaker")
# Recipe options beyond the published one: a stage's settings name them only when they differ from
# the default, so stages trained before they existed keep their hashes.
RECIPE_EXTRAS = {"label_smoothing": 0.0, "lr_schedule": "constant", "mfcc_norm": "none", "audio_augment": "none"}


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "paper"
    scale: str = "full"  # model scale passed to every factory
    # what the preset requires of the cache's frames (the cache owns the values): an int must
    # match, None takes any, up to the max_ limits
    required_frames: int | None = 30
    required_frame_size: int | None = 224
    max_frames: int | None = None
    max_frame_size: int | None = None
    # recipe (SPEC 5)
    epochs: int = 70
    unimodal_epochs: int | None = None  # None: same as epochs
    batch_size: int = 16
    lr: float = 1e-3  # Adam, constant
    weight_decay: float = 0.0
    recipe: str = "two-stage"
    augment: str = "clip"  # random resized crop + flip drawn once per clip; "frame" = legacy
    # protocol (SPEC 3)
    n_folds: int = 6
    n_val: int = 4  # inner validation actors per fold (gender-balanced)
    fold_seed: int = 0
    selection: str = "val"  # "test-legacy" = best test-fold accuracy over epochs (optimistic)
    seed: int = 0
    # engine
    num_workers: int = 4
    precision: str = "auto"  # bf16-mixed on CUDA, 32 on CPU
    channels_last: str = "auto"  # channels_last_3d memory format: "auto" = on CUDA only, "on", "off"
    crop_on_device: str = "auto"  # clip-level crop/flip on the training device: "auto" = on CUDA only
    # the fold's clips read once onto the training device, batches gathered there: "auto" = on CUDA
    # when they take at most 40% of its free memory
    preload: str = "auto"
    compile: str = "off"  # nn.Module.compile() in place: "auto" = on CUDA only (unmeasured there)
    deterministic: bool = False  # torch.use_deterministic_algorithms(True, warn_only=True)
    model_config: dict = field(default_factory=dict)  # extra factory arguments (e.g. legacy flags)
    kinetics: str | None = None  # 3D-ResNets Kinetics checkpoint to initialise the video encoder
    # after selecting the epoch count on the inner validation actors, retrain on all training
    # actors (train + val) for that many epochs and score only that refit on the test fold
    refit: bool = False
    allow_partial_init: bool = False  # train on when unimodal/Kinetics weights miss encoder tensors
    # train on a cache that holds less than the complete corpus (recorded in run.json as "partial";
    # its folds differ from a complete run's, which the folds in run.json then show)
    allow_partial: bool = False
    # the published pipeline (LEGACY_TRAINING, LEGACY_MODEL_FLAGS, LEGACY_PREPROCESS); set through
    # get_preset(..., legacy=True), which applies those settings under any explicit override
    legacy: bool = False
    batch_sizes: dict = field(default_factory=dict)  # per-model batch size (legacy: MSAF trained with 4)
    # beyond the published recipe (docs/results.md measures each on the real voices); the defaults
    # are the published behaviour and leave the stage hashes of earlier runs unchanged
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    lr_schedule: str = "constant"  # "cosine": annealed to 0 over the stage's epochs
    # "train": per-coefficient mean/std of the training actors' clips, in the model (inductive);
    # "speaker": each speaker's own statistics, its clips unlabelled (transductive for test actors)
    mfcc_norm: str = "none"
    # "+"-joined parts of transforms.AUDIO_AUGMENT_PARTS: "mask" (time shift + time and coefficient
    # masks), "noise", "tempo"; drawn per training clip
    audio_augment: str = "none"

    def __post_init__(self):
        for name, value, choices in (
            ("selection", self.selection, SELECTIONS),
            ("recipe", self.recipe, RECIPES),
            ("augment", self.augment, AUGMENTS),
            ("precision", self.precision, PRECISIONS),
            ("channels_last", self.channels_last, ("auto", "on", "off")),
            ("crop_on_device", self.crop_on_device, ("auto", "on", "off")),
            ("preload", self.preload, ("auto", "on", "off")),
            ("compile", self.compile, ("off", "on", "auto")),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
            ("mfcc_norm", self.mfcc_norm, MFCC_NORMS),
        ):
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        try:
            audio_augment_parts(self.audio_augment)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        for name in ("epochs", "batch_size", "n_folds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.unimodal_epochs is not None and self.unimodal_epochs < 1:
            raise ConfigError(f"unimodal_epochs must be >= 1; got {self.unimodal_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")
        if self.n_val < 0:
            raise ConfigError(f"n_val must be >= 0; got {self.n_val}")
        if self.uses_validation and self.n_val == 0:
            raise ConfigError("selection 'val' needs inner validation actors (n_val >= 1); use --selection last or test-legacy for n_val 0")
        if self.refit and self.selection != "val":
            raise ConfigError(f"refit selects the epoch count on inner validation actors: it needs selection 'val', got {self.selection!r}")

    @property
    def uses_validation(self) -> bool:
        """Only "val" selects on inner validation actors; the other rules give them back to training."""
        return self.selection == "val"

    @property
    def unimodal_epoch_count(self) -> int:
        """Epochs of the unimodal stages: `unimodal_epochs`, or `epochs` when that is None."""
        return self.unimodal_epochs or self.epochs

    @property
    def optimistic(self) -> bool:
        return self.selection == "test-legacy"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**known_fields(cls, d))

    def replace(self, **changes) -> "TrainConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


def recipe_extras(cfg: "TrainConfig") -> dict:
    """The recipe options of `cfg` that differ from the published recipe."""
    return {k: getattr(cfg, k) for k, default in RECIPE_EXTRAS.items() if getattr(cfg, k) != default}


# The `improved` preset: the published recipe plus every inductive option whose accuracy on the
# inner VALIDATION actors beat the re-run paper preset's by at least 1 point on the real RAVDESS
# speech, 6 folds x 3 seeds (docs/results.md, "Beyond the paper"; the test figures took no part in
# the choice). Only the MFCC shift and masks qualify (+3.2); noise (+0.95) and tempo (+0.97)
# qualified on the first 2 seeds and not on 3. Per-speaker normalisation is transductive: out.
IMPROVED = {"audio_augment": "mask"}

PRESETS = {
    "paper": TrainConfig(),
    "improved": TrainConfig(preset="improved", **IMPROVED),
    # 8 frames of 48-64 px as prepared for the demo; 4 folds of 2 actors fit the 8-actor synthetic
    # corpus (on 24 actors they are 4 folds of 6); every setting can be overridden.
    "small": TrainConfig(
        preset="small",
        scale="tiny",
        required_frames=None,
        required_frame_size=None,
        max_frames=16,
        max_frame_size=64,
        epochs=3,  # fusion starts from trained unimodal networks: a few epochs suffice
        unimodal_epochs=4,
        batch_size=16,
        n_folds=4,
        n_val=2,
        num_workers=0,
    ),
}


# --legacy: every published behaviour at once (SPEC 3 and 5; table in docs/training.md). Explicit
# options still override these (e.g. fewer epochs for a test); run.json records the result.
LEGACY_TRAINING = dict(
    selection="test-legacy",  # best test-fold accuracy over epochs, trained on all 20 non-test actors
    augment="frame",  # crop/flip drawn per frame
    batch_size=16,
    batch_sizes={"msaf": 4},
    lr=1e-3,
    weight_decay=0.0,  # Adam, constant learning rate
    epochs=70,
    unimodal_epochs=None,
    recipe="two-stage",
)
# Model factory arguments of the published code, passed only to the fusion factories that accept
# them (the unimodal video network keeps its stem ReLU: only the fusion models dropped it).
LEGACY_MODEL_FLAGS = {"attention": "batch_sum", "stem_relu": False, "legacy_dropout": True}


def get_preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    base = PRESETS[name]
    if overrides.get("legacy"):
        base = base.replace(legacy=True, **LEGACY_TRAINING)
    return base.replace(**overrides)


def model_config_for(cfg: TrainConfig, model_name: str) -> dict:
    """Factory arguments of `model_name` in this run: the legacy flags its factory accepts, then --set."""
    if not cfg.legacy:
        return dict(cfg.model_config)
    import inspect

    from avemotion.models import model_info

    info = model_info(model_name)
    if info.fusion == "unimodal":
        return dict(cfg.model_config)
    accepted = inspect.signature(info.factory).parameters
    flags = {k: v for k, v in LEGACY_MODEL_FLAGS.items() if k in accepted}
    return {**flags, **cfg.model_config}


def batch_size_for(cfg: TrainConfig, model_name: str) -> int:
    return int(cfg.batch_sizes.get(model_name, cfg.batch_size))


def check_legacy_cache(cfg: TrainConfig, pre: PreprocessConfig) -> None:
    """--legacy compares like for like only on a cache prepared as the published code did."""
    if not cfg.legacy:
        return
    wrong = [f"{k}={getattr(pre, k, None)!r}" for k, v in LEGACY_PREPROCESS.items() if getattr(pre, k, None) != v]
    if wrong:
        wanted = ", ".join(f"{k}={v!r}" for k, v in LEGACY_PREPROCESS.items())
        raise ConfigError(
            f"--legacy needs a cache prepared with {wanted} (avemotion prepare --legacy); this cache has "
            f"{', '.join(wrong)}"
        )


def run_label(cfg: TrainConfig) -> str:
    """What every report prints beside the numbers: LEGACY and/or OPTIMISTIC, or nothing."""
    return ", ".join(name for name, on in (("LEGACY", cfg.legacy), ("OPTIMISTIC", cfg.optimistic)) if on)


def check_input(cfg: TrainConfig, pre: PreprocessConfig) -> None:
    """Refuse a cache whose frames the preset cannot use. The cache's preprocessing settings are
    the one owner of frames and frame size; the preset only states what it requires of them."""
    if "video" not in pre.modalities:
        return  # an audio-only cache has no frames
    _check_dim("frames", cfg.required_frames, cfg.max_frames, pre.num_frames, cfg.preset)
    _check_dim("frame size", cfg.required_frame_size, cfg.max_frame_size, pre.frame_size, cfg.preset)


def _check_dim(what: str, wanted: int | None, limit: int | None, cached: int, preset: str) -> None:
    if wanted is not None and wanted != cached:
        raise ConfigError(
            f"preset {preset!r} expects {what} {wanted} but the cache was prepared with {cached}; "
            f"prepare a cache with matching settings or choose another preset"
        )
    if limit is not None and cached > limit:
        raise ConfigError(
            f"preset {preset!r} allows at most {what} {limit} but the cache was prepared with {cached}; "
            f"prepare a smaller cache (e.g. --frames 8 --size 48) or use --preset paper"
        )


# Settings that change what a stage learns; launch settings (workers, devices) are left out so a
# run can resume on another machine.
LAUNCH_ONLY = ("num_workers", "precision", "deterministic", "channels_last", "crop_on_device", "preload", "compile",
               "allow_partial")


def settings_hash(payload: dict) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def learning_settings(cfg: TrainConfig) -> dict:
    # recipe extras only when set: run folders made before they existed stay resumable
    return {k: v for k, v in cfg.to_dict().items()
            if k not in LAUNCH_ONLY and not (k in RECIPE_EXTRAS and v == RECIPE_EXTRAS[k])}
