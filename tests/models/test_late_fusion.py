"""Late fusion: the combinations and the multiplicative loss (beta 0.3)."""

import math

import torch
import torch.nn.functional as F

from avemotion.models import create_model


def unimodal_log_probs(model, video, audio):
    with torch.no_grad():
        v = F.log_softmax(model.video_head(model.video_encoder(video)), 1)
        a = F.log_softmax(model.audio_head(model.audio_encoder(audio)), 1)
    return v, a


def test_averaging_returns_log_of_mean_probability(clips):
    video, audio, _ = clips
    model = create_model("averaging", scale="tiny").eval()
    v, a = unimodal_log_probs(model, video, audio)
    with torch.no_grad():
        out = model(video, audio)
    torch.testing.assert_close(out, torch.log((v.exp() + a.exp()) / 2))


def test_multiplication_returns_normalised_product(clips):
    video, audio, _ = clips
    model = create_model("multiplication", scale="tiny").eval()
    v, a = unimodal_log_probs(model, video, audio)
    with torch.no_grad():
        out = model(video, audio)
    product = v.exp() * a.exp()
    torch.testing.assert_close(out.exp(), product / product.sum(1, keepdim=True))


def test_multiplicative_loss_formula(clips):
    video, audio, target = clips
    model = create_model("multiplicative", scale="tiny").eval()
    assert model.beta == 0.3
    v, a = unimodal_log_probs(model, video, audio)
    p_v = v.exp().gather(1, target[:, None]).squeeze(1)
    p_a = a.exp().gather(1, target[:, None]).squeeze(1)
    expected = (-((1 - p_a) ** 0.3) * torch.log(p_v) - (1 - p_v) ** 0.3 * torch.log(p_a)).mean()
    loss, logits = model.loss(video, audio, target)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(2))
    assert not math.isclose(loss.item(), F.cross_entropy(logits, target).item(), rel_tol=1e-3)


def test_multiplicative_beta_zero_is_the_sum_of_cross_entropies(clips):
    video, audio, target = clips
    model = create_model("multiplicative", scale="tiny", beta=0.0).eval()
    v, a = unimodal_log_probs(model, video, audio)
    loss, _ = model.loss(video, audio, target)
    torch.testing.assert_close(loss, F.nll_loss(v, target) + F.nll_loss(a, target))


def test_multiplicative_loss_takes_the_trainers_label_smoothing():
    """Issue 22, defect 3: --label-smoothing reached `multiplicative` as an attribute its loss
    never read. Through the training module, the loss follows the formula with smoothed targets."""
    from avemotion.training.module import AVLightningModule

    g = torch.Generator().manual_seed(0)
    batch = {"video": torch.randint(0, 256, (3, 3, 8, 48, 48), dtype=torch.uint8, generator=g),
             "audio": torch.randn(3, 13, 212, generator=g), "label": torch.tensor([0, 3, 5])}
    model = create_model("multiplicative", scale="tiny").eval()
    plain = AVLightningModule(model, label_smoothing=0.0)._step(batch)[0]
    smooth = AVLightningModule(model, label_smoothing=0.2)._step(batch)[0]
    assert not torch.isclose(plain, smooth)
    v, a = unimodal_log_probs(model, AVLightningModule(model)._video(batch["video"]), batch["audio"])
    target = batch["label"][:, None]
    p_v, p_a = v.exp().gather(1, target).squeeze(1), a.exp().gather(1, target).squeeze(1)

    def ce(log_p):  # cross-entropy against targets smoothed as F.cross_entropy smooths them
        return 0.8 * -log_p.gather(1, target).squeeze(1) + 0.2 * -log_p.mean(1)

    expected = ((1 - p_a) ** 0.3 * ce(v) + (1 - p_v) ** 0.3 * ce(a)).mean()
    torch.testing.assert_close(smooth, expected)
