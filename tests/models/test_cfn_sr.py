"""CFN-SR: per-sample attention is independent of the batch; the published batch-summed map is not."""

import pytest
import torch

from avemotion.models import create_model
from avemotion.models.attention import SelfAttentionEncoder

PER_SAMPLE_MODELS = ["cfn_sr", "cfn_sr_no_sa", "cfn_sr_no_residual", "cfn_sr_v2a", "tacfn"]


def batches(n_frames=8, size=48):
    g = torch.Generator().manual_seed(1)
    video = torch.randn(5, 3, n_frames, size, size, generator=g)
    audio = torch.randn(5, 13, 212, generator=g)
    return video, audio


@pytest.mark.parametrize("name", PER_SAMPLE_MODELS)
def test_fixed_mode_logits_do_not_depend_on_the_batch(name):
    torch.manual_seed(0)
    model = create_model(name, scale="tiny").eval()
    video, audio = batches()
    with torch.no_grad():
        alone = model(video[:1], audio[:1])[0]
        with_two = model(video[:3], audio[:3])[0]
        with_others = model(video[[0, 3, 4]], audio[[0, 3, 4]])[0]
    torch.testing.assert_close(with_two, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(with_others, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["cfn_sr", "cfn_sr_v2a"])
def test_legacy_batch_sum_couples_the_batch(name):
    torch.manual_seed(0)
    model = create_model(name, scale="tiny", attention="batch_sum").eval()
    with torch.no_grad():
        model.cross.score.weight.mul_(50)  # a peaked map, as after training, not the near-uniform init
    video, audio = batches()
    with torch.no_grad():
        alone = model(video[:1], audio[:1])[0]
        with_two = model(video[:3], audio[:3])[0]
        with_others = model(video[[0, 3, 4]], audio[[0, 3, 4]])[0]
    assert (with_two - alone).abs().max() > 1e-3  # batch size changes the prediction
    assert (with_others - with_two).abs().max() > 1e-4  # so do the other clips


def test_attention_map_sums_to_one_per_time_step_and_multiplies():
    torch.manual_seed(0)
    model = create_model("cfn_sr", scale="tiny").eval()
    positions = torch.randn(3, 2, 49, model.video_encoder.out_channels)
    selected = torch.randn(3, model.audio_encoder.out_channels)
    weights = model.cross(positions, selected)
    assert weights.shape == (3, 2, 49)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2))
    model.cross.attention = "batch_sum"
    torch.testing.assert_close(model.cross(positions, selected), weights.sum(0, keepdim=True))
    model.cross.attention, model.cross.multiplier = "per_sample", 49.0
    torch.testing.assert_close(model.cross(positions, selected), weights * 49)


def test_residual_and_no_residual():
    torch.manual_seed(0)
    with_res = create_model("cfn_sr", scale="tiny").eval()
    no_res = create_model("cfn_sr_no_residual", scale="tiny").eval()
    no_res.load_state_dict(with_res.state_dict())  # same parameter names: only the wiring differs
    v = torch.randn(2, with_res.video_encoder.out_channels, 2, 3, 3)
    a = torch.randn(2, with_res.audio_encoder.out_channels)
    weights = with_res.cross(v.flatten(3).permute(0, 2, 3, 1), a).view(2, 1, 2, 3, 3)
    torch.testing.assert_close(with_res.reinforce(v, a), v * weights + v)
    torch.testing.assert_close(no_res.reinforce(v, a), v * weights)


def test_attention_multiplier_reaches_the_map():
    model = create_model("cfn_sr_v2a", scale="tiny", attention_multiplier=16.0)
    assert model.cross.multiplier == 16.0


@pytest.mark.parametrize(
    "name, option",
    [("cfn_sr_no_block", {"attention": "per_sample"}), ("cfn_sr_no_block", {"causal": True}), ("cfn_sr_no_sa", {"causal": True})],
)
def test_ablation_refuses_an_option_it_has_no_part_for(name, option):
    """No block: nothing to attend with; no self-attention: no causal mask. Even the default value
    is a TypeError, as for any factory, so a --set of it is never silently ignored."""
    create_model("cfn_sr", scale="tiny", **option)  # the full model takes it
    with pytest.raises(TypeError, match=next(iter(option))):
        create_model(name, scale="tiny", **option)


def test_ablation_structure():
    no_block = create_model("cfn_sr_no_block", scale="tiny")
    no_sa = create_model("cfn_sr_no_sa", scale="tiny")
    assert no_block.cross is None and no_block.self_attention is None
    assert no_sa.cross is not None and no_sa.self_attention is None


@pytest.mark.parametrize("causal", [True, False])
def test_causal_mask_hides_later_steps(causal):
    torch.manual_seed(0)
    encoder = SelfAttentionEncoder(16, 4, 32, 2, causal=causal).eval()
    tokens = torch.randn(1, 6, 16)
    changed = tokens.clone()
    changed[:, -1] = torch.randn(16)  # not a constant shift: LayerNorm would remove that
    with torch.no_grad():
        first, first_changed = encoder(tokens)[:, 0], encoder(changed)[:, 0]
        last, last_changed = encoder(tokens)[:, -1], encoder(changed)[:, -1]
    assert torch.allclose(first, first_changed, atol=1e-6) == causal
    assert not torch.allclose(last, last_changed)


def test_causal_option_reaches_the_model():
    assert create_model("cfn_sr", scale="tiny").self_attention.causal is True
    assert create_model("cfn_sr", scale="tiny", causal=False).self_attention.causal is False


def test_full_transformer_size():
    encoder = SelfAttentionEncoder(64, 8, 256, 5)
    assert sum(p.numel() for p in encoder.parameters()) == 250_048
