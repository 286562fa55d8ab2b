"""MSAF block dropout (fixed vs the published double mask), padding, and the module's wiring."""

import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.models import create_model
from avemotion.models.msaf import SplitAttention


def dropped(legacy: bool) -> torch.Tensor:
    torch.manual_seed(0)
    module = SplitAttention((64, 32), 16, dropout=0.2, legacy=legacy).train()
    x = torch.ones(32, 6, 16, 5)  # (B, blocks, block, steps)
    return module.block_dropout(x)


@pytest.mark.parametrize("legacy, kept", [(False, 1 / 0.8), (True, 1 / 0.8 / 0.8)])
def test_block_dropout_scale(legacy, kept):
    out = dropped(legacy)
    values = torch.unique(out)
    assert len(values) == 2
    assert values[0] == 0
    assert values[1] == pytest.approx(kept)
    # whole blocks: every block is all-kept or all-dropped
    per_block = out.flatten(2)
    assert ((per_block == per_block[..., :1]).all())
    rate = float((per_block[..., 0] == 0).float().mean())
    assert 0.1 < rate < 0.3  # about 0.2 of 192 blocks


def test_block_dropout_is_identity_in_eval():
    module = SplitAttention((64, 32), 16, dropout=0.2).eval()
    x = torch.randn(2, 6, 16, 5)
    assert torch.equal(module.block_dropout(x), x)


def test_model_option_reaches_both_modules():
    fixed = create_model("msaf", scale="tiny")
    legacy = create_model("msaf", scale="tiny", legacy_dropout=True)
    assert not fixed.msaf1.legacy and not fixed.msaf2.legacy
    assert legacy.msaf1.legacy and legacy.msaf2.legacy
    assert fixed.msaf1.block == 16 and fixed.msaf2.block == 32


def test_attention_is_softmax_across_all_blocks_and_shapes_are_kept():
    torch.manual_seed(0)
    module = SplitAttention((20, 8), 16).eval()  # neither divides: channel padding
    assert module.num_blocks == (2, 1)
    video, audio = torch.randn(3, 20, 2, 4, 4), torch.randn(3, 8, 26)
    out_v, out_a = module([video, audio])
    assert out_v.shape == video.shape and out_a.shape == audio.shape
    # zero-padded channels stay out of the result; a block's attention is in (0, 1)
    ratio = out_a / audio
    assert ((ratio > 0) & (ratio < 1)).all()


def test_legacy_refuses_channel_counts_it_would_pad_wrongly():
    with pytest.raises(ConfigError, match="divisible"):
        SplitAttention((20, 8), 16, legacy=True)


def test_full_module_sizes():
    # 1024/16 + 32/16 = 66 blocks of 16; 2048/32 + 64/32 = 66 blocks of 32
    model = create_model("msaf", scale="tiny")
    assert model.msaf1.num_blocks == (8, 1) and model.msaf2.num_blocks == (8, 1)
    full = SplitAttention((1024, 32), 16), SplitAttention((2048, 64), 32)
    assert [sum(p.numel() for p in m.parameters()) for m in full] == [5_356, 19_288]
