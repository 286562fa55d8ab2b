"""Model registry: one decorator per model file, timm-style factories carrying their contract.

    @register_model("cfn_sr", fusion="intermediate", paper_accuracy=75.76, paper_params=26.30)
    def cfn_sr(*, num_classes: int = 8, **config) -> AVModel: ...

`create_model(name, num_classes=8, **config)` builds it and records name and config on the module,
so a checkpoint can rebuild exactly the same model. Each entry owns the facts others print or check:
its input contract (`check_input_contract`) and its real parameter count (`ModelInfo.params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
from torch import nn

from avemotion.config import MODALITIES, PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models.sizes import MFCC_SHAPE


@dataclass(frozen=True)
class InputContract:
    """What a model needs from a cache: its modalities and the input shapes it really fixes.

    `frames` / `frame_size` None: any. The video encoder pools adaptively, so no registered model
    fixes them. `mfcc_shape` None: the model reads no audio.
    """

    modalities: tuple[str, ...] = MODALITIES
    frames: int | None = None
    frame_size: int | None = None
    mfcc_shape: tuple[int, int] | None = MFCC_SHAPE

    @classmethod
    def for_modalities(cls, modalities) -> InputContract:
        """The contract of a model that reads `modalities`: an audio reader needs MFCC_SHAPE."""
        modalities = tuple(modalities)
        return cls(modalities=modalities, mfcc_shape=MFCC_SHAPE if "audio" in modalities else None)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable[..., nn.Module]
    fusion: str  # "unimodal", "late", "early", "intermediate"
    input: InputContract
    paper_accuracy: float | None = None  # RAVDESS 6-fold, published (legacy) selection, percent
    paper_params: float | None = None  # millions, as printed in the paper
    description: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.input.modalities

    @property
    def params(self) -> int:
        """The real parameter count at full scale and default config (computed once, on first use)."""
        return model_params(self.name)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    fusion: str,
    modalities: tuple[str, ...] = MODALITIES,
    paper_accuracy: float | None = None,
    paper_params: float | None = None,
    description: str = "",
    input: InputContract | None = None,
):
    """`input` is for a model that fixes more than what its `modalities` imply (frames, frame size)."""
    contract = input or InputContract.for_modalities(modalities)
    if contract.modalities != tuple(modalities):
        raise ValueError(f"model {name!r}: input contract modalities {contract.modalities} != {tuple(modalities)}")

    def decorator(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(
            name=name,
            factory=factory,
            fusion=fusion,
            input=contract,
            paper_accuracy=paper_accuracy,
            paper_params=paper_params,
            description=description or _first_line(factory.__doc__),
        )
        return factory

    return decorator


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _ensure_loaded() -> None:
    # Importing the package imports every model file, which runs their decorators.
    import avemotion.models  # noqa: F401


def list_models() -> list[str]:
    _ensure_loaded()
    return list(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(_REGISTRY)}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@lru_cache(maxsize=None)
def model_params(name: str, scale: str = "full") -> int:
    """Parameters of model `name` with its default config. Built on the meta device (shapes only:
    no memory, no initialisation) and only when asked, so importing the registry stays cheap."""
    with torch.device("meta"):
        return count_parameters(create_model(name, scale=scale))


def missing_modalities(name: str, available) -> tuple[str, ...]:
    """The modalities model `name` needs that `available` (e.g. a cache's) lacks."""
    return _missing(model_info(name).input, available)


def _missing(contract: InputContract, available) -> tuple[str, ...]:
    return tuple(m for m in contract.modalities if m not in tuple(available))


def input_problems(contract: InputContract, preprocess: PreprocessConfig, what: str = "the cache") -> list[str]:
    """What `preprocess` lacks or gets wrong for `contract`, one phrase each; empty when it fits."""
    problems = []
    missing = _missing(contract, preprocess.modalities)
    if missing:
        problems.append(f"needs {' and '.join(missing)}, which {what} does not hold "
                        f"(it holds {'+'.join(preprocess.modalities)})")
    if "video" in contract.modalities and "video" in preprocess.modalities:
        if contract.frames is not None and contract.frames != preprocess.num_frames:
            problems.append(f"needs {contract.frames} frames, {what} has {preprocess.num_frames}")
        if contract.frame_size is not None and contract.frame_size != preprocess.frame_size:
            problems.append(f"needs {contract.frame_size} px frames, {what} has {preprocess.frame_size} px")
    if contract.mfcc_shape is not None and "audio" in preprocess.modalities:
        shape = (preprocess.n_mfcc, preprocess.mfcc_frames)
        if shape != tuple(contract.mfcc_shape):
            problems.append(f"needs MFCCs of shape {tuple(contract.mfcc_shape)}, {what} has {shape}")
    return problems


def fitting_models(preprocess: PreprocessConfig) -> list[str]:
    """The registered models whose input contract `preprocess` meets."""
    return [n for n in list_models() if not input_problems(model_info(n).input, preprocess)]


def check_input_contract(name: str, preprocess: PreprocessConfig, *, what: str = "the cache") -> None:
    """ConfigError in one line unless `preprocess` (a cache's, or prediction's) gives model `name`
    every modality it reads, in the shapes it fixes. `what` names the source in the message."""
    problems = input_problems(model_info(name).input, preprocess, what)
    if problems:
        fitting = ", ".join(fitting_models(preprocess)) or "none"
        raise ConfigError(f"model {name!r} {'; '.join(problems)}; models that fit it: {fitting}")


def uses_video(model: nn.Module | str) -> bool:
    """Whether a registered model (a name, or a module built by create_model) reads the video."""
    name = model if isinstance(model, str) else getattr(model, "avemotion_name", None)
    return name is None or "video" in model_info(name).modalities


def create_model(name: str, num_classes: int = 8, **config) -> nn.Module:
    info = model_info(name)
    model = info.factory(num_classes=num_classes, **config)
    model.avemotion_name = name
    model.avemotion_config = dict(config, num_classes=num_classes)
    return model
