"""Training: presets, LightningModule, DataModule, the two-stage recipe, selection, resume, run folder."""

from avemotion.training.api import train, train_many  # noqa: F401
from avemotion.training.presets import PRESETS, TrainConfig, get_preset  # noqa: F401
