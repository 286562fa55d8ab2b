"""Forward and backward of every registered model at tiny scale on small inputs."""

import pytest
import torch

from avemotion.models import AVModel, create_model, list_models, model_info


# A constant added to every score of a softmax cancels out (softmax(x + c) = softmax(x)): the bias
# of the one-output score layer of the guided attention is connected to the loss, but its gradient
# is zero by construction (it is kept for the published parameter count).
SOFTMAX_SHIFT = ("cross.score.bias",)


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name, clips):
    """Training mode (dropout and block dropout on): logits, a finite loss, finite gradients."""
    video, audio, target = clips
    torch.manual_seed(0)
    model = create_model(name, scale="tiny")
    assert isinstance(model, AVModel)
    model.train()
    loss, logits = model.loss(video, audio, target)
    assert logits.shape == (2, 8)
    assert loss.dim() == 0 and torch.isfinite(loss) and torch.isfinite(logits).all()
    loss.backward()
    for param_name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), f"non-finite gradient in {param_name}"
    for role in ("video", "audio"):  # a unimodal model has no encoder of the other modality
        assert (getattr(model, f"{role}_encoder") is None) == (role not in model_info(name).modalities)


@pytest.mark.parametrize("name", list_models())
def test_every_parameter_reaches_the_loss_unless_declared_unused(name, clips):
    """Every parameter gets a non-zero gradient (the Transformer, the cross-modal block, the fusion
    modules, the heads: not only the encoders), except those the model declares unused, which get
    none; `has_unused_parameters` says whether there are any.

    Eval mode: every random drop is off (nn.Dropout, attention dropout, MSAF's block dropout), so a
    zero gradient cannot come from a dropped unit, and the forward is the same on every run.
    BatchNorm then normalises with its running statistics; in train mode the batch mean would remove
    the bias of a layer that feeds a BatchNorm directly (MSAF's joint.0.bias: zero by construction).
    """
    video, audio, target = clips
    torch.manual_seed(0)
    model = create_model(name, scale="tiny").eval()
    loss, _ = model.loss(video, audio, target)
    loss.backward()
    declared = set(model.unused_parameter_names())
    names = {n for n, _ in model.named_parameters()}
    assert declared <= names, f"declared unused but not parameters: {sorted(declared - names)}"
    assert model.has_unused_parameters == bool(declared)
    no_grad = sorted(n for n, p in model.named_parameters() if p.grad is None)
    assert no_grad == sorted(declared), "parameters that never reach the loss must be exactly the declared ones"
    zero = sorted(n for n, p in model.named_parameters()
                  if p.grad is not None and p.grad.abs().max() == 0 and not n.endswith(SOFTMAX_SHIFT))
    assert not zero, f"zero gradient: {zero}"
    for n, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), f"non-finite gradient in {n}"


@pytest.mark.parametrize("name", list_models())
def test_eval_forward_is_deterministic(name, clips):
    video, audio, _ = clips
    model = create_model(name, scale="tiny").eval()
    g = torch.Generator().manual_seed(1)
    other_video, other_audio = torch.randn(video.shape, generator=g), torch.randn(audio.shape, generator=g)
    with torch.no_grad():
        first, second = model(video, audio), model(video, audio)
        other = model(other_video, other_audio)
    assert first.shape == (2, 8) and torch.isfinite(first).all()
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, other)  # deterministic, yet a function of its input


def test_unimodal_models_ignore_the_other_modality(clips):
    video, audio, _ = clips
    v_model = create_model("video", scale="tiny").eval()
    a_model = create_model("audio", scale="tiny").eval()
    with torch.no_grad():
        torch.testing.assert_close(v_model(video, audio), v_model(video, torch.zeros_like(audio)))
        torch.testing.assert_close(a_model(video, audio), a_model(torch.zeros_like(video), audio))


def test_wrong_audio_shape_is_explained(clips):
    video, _, _ = clips
    model = create_model("audio", scale="tiny")
    with pytest.raises(ValueError, match=r"\(B, 13, 212\)"):
        model(video, torch.zeros(2, 13, 100))


def test_full_size_cfn_sr_runs_on_small_input():
    # The full model with its exact count still runs on 8 frames of 64x64 (adaptive pooling).
    torch.manual_seed(0)
    model = create_model("cfn_sr").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 64, 64), torch.randn(1, 13, 212))
    assert out.shape == (1, 8) and torch.isfinite(out).all()


def test_stem_relu_option_changes_the_video_stem():
    torch.manual_seed(0)
    fixed = create_model("video", scale="tiny").eval()
    legacy = create_model("video", scale="tiny", stem_relu=False).eval()
    with torch.no_grad():
        fixed.video_encoder.bn1.bias.fill_(-3.0)  # push the stem negative so the ReLU matters
    legacy.load_state_dict(fixed.state_dict())
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        stem_fixed, stem_legacy = fixed.video_encoder.stem(x), legacy.video_encoder.stem(x)
        assert (stem_legacy < 0).any()
        # max-pool commutes with ReLU: the fixed stem is the legacy stem clamped at zero
        torch.testing.assert_close(stem_fixed, stem_legacy.clamp_min(0))
        assert not torch.allclose(fixed(x, None), legacy(x, None))
