"""MSAF block dropout (fixed vs the published double mask), padding, and the module's wiring."""

import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.models import create_model
from avemotion.models.msaf import SplitAttention


def test_block_masks_drop_whole_blocks_at_the_rate_and_scale_the_kept_ones():
    torch.manual_seed(0)
    module = SplitAttention((64, 32), 16, dropout=0.2).train()
    x = torch.ones(256, 6, 16, 5)  # (B, blocks, block, steps)
    (mask,) = module.block_masks([x])
    assert mask.shape == (256, 6, 1, 1)  # one draw per sample and block: whole blocks
    values = torch.unique(mask)
    assert values.tolist() == [0.0, pytest.approx(1 / 0.8)]
    rate = float((mask == 0).float().mean())
    assert abs(rate - 0.2) < 4 * (0.2 * 0.8 / mask.numel()) ** 0.5  # 4 binomial standard deviations


def test_block_masks_are_none_in_eval():
    module = SplitAttention((64, 32), 16, dropout=0.2).eval()
    assert module.block_masks([torch.randn(2, 6, 16, 5)]) == [None]


def test_model_option_reaches_both_modules():
    fixed = create_model("msaf", scale="tiny")
    legacy = create_model("msaf", scale="tiny", legacy_dropout=True)
    assert not fixed.msaf1.legacy and not fixed.msaf2.legacy
    assert legacy.msaf1.legacy and legacy.msaf2.legacy
    assert fixed.msaf1.block == 16 and fixed.msaf2.block == 32


def observed_attention(module: SplitAttention, features: list[torch.Tensor]) -> torch.Tensor:
    """The factor every channel was multiplied by, read off the module's outputs (out / in), laid out
    like the module's attention: (B, all blocks, block); NaN on padding channels (no input)."""
    outputs = module(features)
    rows = []
    for x, out, n in zip(features, outputs, module.num_blocks):
        assert out.shape == x.shape
        ratio = (out / x).flatten(2)  # (B, C, positions)
        # one factor per sample and channel, the same at every time step and position
        torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio))
        factor = torch.full((x.shape[0], n * module.block), float("nan"))
        factor[:, : x.shape[1]] = ratio[..., 0]
        rows.append(factor.view(x.shape[0], n, module.block))
    return torch.cat(rows, dim=1)


def msaf_module(which: str) -> SplitAttention:
    if which.startswith("model."):  # the tiny model's own modules, at their channel counts
        return getattr(create_model("msaf", scale="tiny"), which.split(".")[1])
    channels, block = {"divides": ((32, 16), 16), "padded": ((20, 8), 16)}[which]
    return SplitAttention(channels, block)  # padded: neither count divides 16


@pytest.mark.parametrize("which", ["divides", "padded", "model.msaf1", "model.msaf2"])
def test_attention_is_softmax_across_all_blocks_and_shapes_are_kept(which):
    """For every sample and every channel of a block, the attention over all blocks of both
    modalities sums to 1; over the channels of a block or over the batch it does not."""
    torch.manual_seed(0)
    module = msaf_module(which).eval()  # eval: no block dropout, the outputs are x * attention only
    c_video, c_audio = module.channels
    video, audio = torch.randn(3, c_video, 2, 4, 4), torch.randn(3, c_audio, 26)
    attention = observed_attention(module, [video, audio])
    assert attention.shape == (3, sum(module.num_blocks), module.block)
    # channels that are real (not padding) in every block: all of them when the counts divide
    complete = ~attention.isnan().any(dim=1)  # (B, block)
    assert complete.any()
    if which != "padded":
        assert complete.all()
    real = attention[~attention.isnan()]
    assert ((real > 0) & (real < 1)).all()
    over_blocks = attention.sum(dim=1)  # (B, block)
    torch.testing.assert_close(over_blocks[complete], torch.ones(int(complete.sum())))
    # a softmax over another axis would make these 1 instead
    whole = ~attention.isnan().any(dim=2).any(dim=0)  # blocks without padding
    over_channels = attention[:, whole].sum(dim=2)
    over_batch = attention[:, whole].sum(dim=0)
    assert not torch.allclose(over_channels, torch.ones_like(over_channels), atol=0.05)
    assert not torch.allclose(over_batch, torch.ones_like(over_batch), atol=0.05)
    # a block's attention depends on the sample: the module is not a fixed per-block scale
    assert not torch.allclose(attention[0], attention[1])


def test_legacy_refuses_channel_counts_it_would_pad_wrongly():
    with pytest.raises(ConfigError, match="divisible"):
        SplitAttention((20, 8), 16, legacy=True)


def test_full_module_sizes():
    # 1024/16 + 32/16 = 66 blocks of 16; 2048/32 + 64/32 = 66 blocks of 32
    model = create_model("msaf", scale="tiny")
    assert model.msaf1.num_blocks == (8, 1) and model.msaf2.num_blocks == (8, 1)
    full = SplitAttention((1024, 32), 16), SplitAttention((2048, 64), 32)
    assert [sum(p.numel() for p in m.parameters()) for m in full] == [5_356, 19_288]
