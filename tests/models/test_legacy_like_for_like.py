"""Like for like with the published models (issue 10): CFN-SR's audio dropout before the head, and
MSAF's published double block mask, replayed against a reference written here."""

import pytest
import torch
import torch.nn.functional as F

from avemotion.errors import ConfigError
from avemotion.models import create_model
from avemotion.models.msaf import SplitAttention

HEAD_DROPOUT_MODELS = ["cfn_sr", "cfn_sr_no_block", "cfn_sr_no_sa", "cfn_sr_no_residual", "cfn_sr_v2a", "tacfn"]
# the models whose head sees the original audio features (v2a's head sees the reinforced audio)
ORIGINAL_AUDIO_MODELS = [n for n in HEAD_DROPOUT_MODELS if n != "cfn_sr_v2a"]


def clips(batch=6):
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, 8, 48, 48, generator=g), torch.randn(batch, 13, 212, generator=g)


def head_inputs(model, mode: str) -> dict:
    """One forward in `mode`; the audio encoder output, the audio dropout's input and output and the
    head's input, captured by hooks."""
    seen = {}
    hooks = [
        model.audio_encoder.register_forward_hook(lambda m, i, o: seen.__setitem__("audio", o)),
        model.audio_dropout.register_forward_hook(lambda m, i, o: seen.update(before=i[0], after=o)),
        model.head.register_forward_hook(lambda m, i, o: seen.__setitem__("head", i[0])),
    ]
    model.train(mode == "train")
    torch.manual_seed(1)
    with torch.no_grad():
        model(*clips())
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("name", HEAD_DROPOUT_MODELS)
def test_head_sees_the_audio_features_after_dropout_04(name):
    torch.manual_seed(0)
    model = create_model(name, scale="tiny")
    seen = head_inputs(model, "train")
    before, after = seen["before"], seen["after"]
    assert before.shape[1] == model.audio_encoder.flat_dim
    # the classifier's audio columns are the dropout's output
    assert torch.equal(seen["head"][:, -before.shape[1]:], after)
    dropped = after == 0
    assert torch.allclose(after[~dropped], before[~dropped] / 0.6)
    rate = dropped.float().mean().item()  # 6 x 832 elements: std of the rate 0.007
    assert abs(rate - 0.4) < 0.04


@pytest.mark.parametrize("name", ORIGINAL_AUDIO_MODELS)
def test_dropout_is_on_the_original_audio_features(name):
    torch.manual_seed(0)
    seen = head_inputs(create_model(name, scale="tiny"), "train")
    assert torch.equal(seen["before"], seen["audio"].flatten(1))


@pytest.mark.parametrize("name", HEAD_DROPOUT_MODELS)
def test_audio_dropout_zero_and_eval_leave_the_features(name):
    torch.manual_seed(0)
    default = create_model(name, scale="tiny")
    torch.manual_seed(0)
    off = create_model(name, scale="tiny", audio_dropout=0.0)
    assert off.audio_dropout.p == 0 and default.audio_dropout.p == 0.4
    for seen in (head_inputs(off, "train"), head_inputs(default, "eval")):
        assert torch.equal(seen["after"], seen["before"])
    # dropout has no parameters or buffers: same count, and checkpoints of either load in the other
    assert default.state_dict().keys() == off.state_dict().keys()
    assert sum(p.numel() for p in default.parameters()) == sum(p.numel() for p in off.parameters())


@pytest.mark.parametrize("value", [1.0, -0.1, "0.4", True, None])
def test_bad_audio_dropout_is_a_one_line_config_error(value):
    with pytest.raises(ConfigError, match="audio_dropout must be a number in") as err:
        create_model("cfn_sr", scale="tiny", audio_dropout=value)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- MSAF block dropout


def published_split_attention(module: SplitAttention, features, keep_drop, legacy: bool):
    """The published MSAF block in training mode, written out: features split into blocks, each block
    times its scaled mask m = keep/drop / (1 - p); the summary is the sum of every modality's blocks,
    averaged over the other axes; linear, BatchNorm with batch statistics, ReLU; one linear per
    block; softmax across all blocks; the published output multiplies the attention by m again.
    Returns the outputs and the BatchNorm running mean and variance after this step."""
    keep = 1 - module.dropout
    blocks = []
    for x, m in zip(features, keep_drop):
        for j, b in enumerate(torch.split(x, module.block, dim=1)):
            blocks.append((b, (m[:, j] / keep).view(-1, *[1] * (b.dim() - 1))))
    summary = sum((b * m).mean(dim=tuple(range(2, b.dim()))) for b, m in blocks)
    linear, bn = module.joint[0], module.joint[1]
    z = F.linear(summary, linear.weight, linear.bias)
    mean, var = z.mean(0), z.var(0, unbiased=False)
    joint = torch.relu((z - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias)
    scores = torch.stack([F.linear(joint, d.weight, d.bias) for d in module.dense], dim=1)
    attention = torch.softmax(scores, dim=1)  # (B, all blocks, block)
    outs = []
    for j, (b, m) in enumerate(blocks):
        a = attention[:, j].view(*attention.shape[:1], -1, *[1] * (b.dim() - 2))
        outs.append(b * m * (a * m if legacy else a))
    per_modality, start = [], 0
    for x in features:
        n = x.shape[1] // module.block
        per_modality.append(torch.cat(outs[start:start + n], dim=1))
        start += n
    momentum = bn.momentum
    running_mean = (1 - momentum) * bn.running_mean + momentum * mean
    running_var = (1 - momentum) * bn.running_var + momentum * z.var(0, unbiased=True)
    return per_modality, running_mean, running_var


@pytest.mark.parametrize("legacy", [True, False])
def test_msaf_training_step_matches_the_published_computation(legacy, monkeypatch):
    torch.manual_seed(0)
    module = SplitAttention((64, 32), 16, dropout=0.2, legacy=legacy).train()
    with torch.no_grad():  # running statistics away from their initial values, so the update shows
        module.joint[1].running_mean.uniform_(-1, 1)
        module.joint[1].running_var.uniform_(0.5, 2)
    features = [torch.randn(8, 64, 2, 3, 3), torch.randn(8, 32, 26)]
    keep_drop = [torch.bernoulli(torch.full((8, n), 0.8)) for n in module.num_blocks]
    keep_drop[0][0] = 0  # one sample without video
    expected, running_mean, running_var = published_split_attention(module, features, keep_drop, legacy)

    masks = iter(keep_drop)
    monkeypatch.setattr(module, "draw_mask", lambda x: next(masks).view(*x.shape[:2], *[1] * (x.dim() - 2)))
    outputs = module(features)
    for out, ref in zip(outputs, expected):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    bn = module.joint[1]
    torch.testing.assert_close(bn.running_mean, running_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, running_var, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 1


def test_msaf_model_in_training_draws_each_block_mask_once(monkeypatch):
    # the whole model: one mask per module and modality per step, reaching both modules
    torch.manual_seed(0)
    model = create_model("msaf", scale="tiny", legacy_dropout=True).train()
    draws = []
    for module in (model.msaf1, model.msaf2):
        original = module.draw_mask
        monkeypatch.setattr(module, "draw_mask", lambda x, f=original: draws.append(x.shape[:2]) or f(x))
    model(*clips(4))
    assert draws == [(4, n) for n in model.msaf1.num_blocks + model.msaf2.num_blocks]
