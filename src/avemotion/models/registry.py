"""Model registry: one decorator per model file, timm-style factories carrying their contract.

    @register_model("cfn_sr", fusion="intermediate", paper_accuracy=75.76, paper_params=26.30)
    def cfn_sr(*, num_classes: int = 8, **config) -> AVModel: ...

`create_model(name, num_classes=8, **config)` builds it and records name and config on the module,
so a checkpoint can rebuild exactly the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from avemotion.errors import ConfigError


@dataclass(frozen=True)
class InputContract:
    """What the model expects; the paper preset. Encoders pool adaptively, so smaller inputs run."""

    frames: int = 30
    frame_size: int = 224
    mfcc_shape: tuple[int, int] = (13, 212)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable[..., nn.Module]
    fusion: str  # "unimodal", "late", "early", "intermediate"
    modalities: tuple[str, ...] = ("video", "audio")
    paper_accuracy: float | None = None  # RAVDESS 6-fold, published (legacy) selection, percent
    paper_params: float | None = None  # millions, as printed in the paper
    description: str = ""
    input: InputContract = field(default_factory=InputContract)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    fusion: str,
    modalities: tuple[str, ...] = ("video", "audio"),
    paper_accuracy: float | None = None,
    paper_params: float | None = None,
    description: str = "",
    input: InputContract | None = None,
):
    def decorator(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(
            name=name,
            factory=factory,
            fusion=fusion,
            modalities=tuple(modalities),
            paper_accuracy=paper_accuracy,
            paper_params=paper_params,
            description=description or _first_line(factory.__doc__),
            input=input or InputContract(),
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


def missing_modalities(name: str, available) -> tuple[str, ...]:
    """The modalities model `name` needs that `available` (e.g. a cache's) lacks."""
    return tuple(m for m in model_info(name).modalities if m not in tuple(available))


def check_modalities(names, available, what: str = "the cache") -> None:
    """ConfigError in one line naming the first model whose inputs `available` does not hold."""
    for name in names:
        missing = missing_modalities(name, available)
        if missing:
            raise ConfigError(f"model {name!r} needs {' and '.join(missing)}, which {what} does not hold "
                              f"(it holds {'+'.join(available)}); models it can train: "
                              f"{', '.join(n for n in list_models() if not missing_modalities(n, available))}")


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
