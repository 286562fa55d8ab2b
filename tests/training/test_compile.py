"""`compile`: nn.Module.compile() in place gives the eager loss and plain checkpoint keys."""

from __future__ import annotations

import pytest

from avemotion.errors import ConfigError
from avemotion.models import create_model
from avemotion.models.checkpoint import load_checkpoint, save_checkpoint
from avemotion.training.module import AVLightningModule
from avemotion.training.presets import TrainConfig


def test_compile_setting_is_checked():
    assert TrainConfig().compile == "off"
    with pytest.raises(ConfigError, match="compile must be one of"):
        TrainConfig(compile="max-autotune")


# Not marked slow: the audio network compiles in about 20 s on 2 cores (tiny CFN-SR took minutes).
def test_a_compiled_step_gives_the_eager_loss_and_plain_checkpoint_keys(small_config, tmp_path, monkeypatch, random_batch):
    import torch._inductor.config

    # Inductor draws dropout masks from its own generator; eager's draws make the losses comparable.
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    # The audio network: a small graph to compile; every model goes through the same module code.
    results = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        lit = AVLightningModule(create_model("audio", scale="tiny"), compile=compiled).train()
        torch.manual_seed(1)  # same dropout draws
        loss, logits = lit._step(random_batch())
        loss.backward()
        grads = [p.grad.clone() for p in lit.model.parameters()]
        stem = tmp_path / f"compiled_{compiled}"
        save_checkpoint(lit.model, stem, preprocess=small_config)
        results[compiled] = (loss.detach(), logits.detach(), grads, stem)
    (l0, z0, g0, eager), (l1, z1, g1, compiled) = results[False], results[True]
    torch.testing.assert_close(l1, l0, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(z1, z0, rtol=1e-4, atol=1e-4)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)
    from safetensors import safe_open

    keys = {}
    for name, stem in (("eager", eager), ("compiled", compiled)):
        with safe_open(str(stem) + ".safetensors", "pt") as f:
            keys[name] = sorted(f.keys())
    assert keys["compiled"] == keys["eager"] and not any("_orig_mod" in k for k in keys["compiled"])
    model, _ = load_checkpoint(compiled)  # loads strictly into a fresh, eager model
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in lit.model.parameters())
