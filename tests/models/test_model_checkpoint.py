"""A model built by create_model round-trips through save_checkpoint / load_checkpoint."""

import pytest
import torch

from avemotion.config import PreprocessConfig
from avemotion.models import create_model
from avemotion.models.checkpoint import load_checkpoint, save_checkpoint


@pytest.mark.parametrize(
    "name, config",
    [
        ("cfn_sr", {"scale": "tiny", "attention": "batch_sum", "causal": False}),
        ("mcbp", {"scale": "tiny", "dim": 512, "seed": 3}),
        ("msaf", {"scale": "tiny", "legacy_dropout": True, "num_classes": 6}),
        ("video", {"scale": "tiny", "stem_relu": False}),
    ],
)
def test_checkpoint_round_trip(tmp_path, clips, name, config):
    video, audio, _ = clips
    config = dict(config)
    num_classes = config.pop("num_classes", 8)
    torch.manual_seed(0)
    model = create_model(name, num_classes=num_classes, **config).eval()
    save_checkpoint(model, tmp_path / "model", preprocess=PreprocessConfig(), extra={"fold": 0})
    loaded, meta = load_checkpoint(tmp_path / "model")
    assert meta["model"] == name and meta["fold"] == 0
    assert loaded.avemotion_name == name
    assert loaded.avemotion_config == dict(config, num_classes=num_classes)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(video, audio), model(video, audio))
