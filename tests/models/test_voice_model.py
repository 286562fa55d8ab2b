"""Voice models (models/voice.py) and their weights files (models/voice_weights.py)."""

from __future__ import annotations

import pytest
import torch

from avemotion.data.voice import VoiceConfig
from avemotion.errors import ConfigError
from avemotion.models.voice import LogMel, create_voice_model, list_voice_models, voice_model_info
from avemotion.models.voice_weights import load_voice_model, read_voice_meta, save_voice_model

CFG = VoiceConfig()


def waves_of(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    waves = torch.zeros(len(lengths), width)
    for i, n in enumerate(lengths):
        waves[i, :n] = 0.05 * torch.randn(n, generator=g)
    return waves, torch.tensor(lengths)


@pytest.mark.parametrize("name", list_voice_models())
def test_a_short_utterance_gets_the_same_logits_alone_and_padded_inside_a_batch(name):
    """The padding of a batch is masked everywhere (features, normalisation, convolutions, pooling)."""
    torch.manual_seed(0)
    model = create_voice_model(name, 6, CFG).eval()
    waves, lengths = waves_of([20000, 48000, 7777], seed=1)
    with torch.no_grad():
        together = model(waves, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone = model(waves[i:i + 1, :n], lengths[i:i + 1])
            torch.testing.assert_close(alone, together[i:i + 1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", list_voice_models())
def test_a_prediction_depends_on_its_input(name):
    torch.manual_seed(0)
    model = create_voice_model(name, 6, CFG).eval()
    waves, lengths = waves_of([16000, 16000], seed=2)
    waves[1] = torch.sin(torch.arange(16000) * 0.3) * 0.05
    with torch.no_grad():
        out = model(waves, lengths)
    assert not torch.allclose(out[0], out[1], atol=1e-4)


@pytest.mark.parametrize("name", list_voice_models())
def test_voice_models_stay_under_one_million_parameters(name):
    assert 0 < voice_model_info(name).params < 1_000_000


def test_attention_pooling_sums_to_one_over_the_real_frames_and_ignores_padding():
    model = create_voice_model("voice_cnn", 4, CFG).eval()
    x = torch.randn(3, model.pool.score[0].in_channels, 50)
    mask = torch.arange(50)[None] < torch.tensor([50, 20, 1])[:, None]
    w = model.pool.weights(x, mask)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(3))
    assert (w[~mask] == 0).all()


@pytest.mark.parametrize("norm", ["mean", "meanvar"])
def test_band_normalisation_is_over_the_real_frames_of_each_utterance(norm):
    features = LogMel(CFG, norm)
    waves, lengths = waves_of([9000, 30000], seed=3)
    x, mask = features(waves, lengths)
    for i in range(2):
        real = x[i][:, mask[i]]
        torch.testing.assert_close(real.mean(dim=1), torch.zeros(CFG.n_mels), atol=1e-4, rtol=0)
        if norm == "meanvar":
            torch.testing.assert_close(real.pow(2).mean(dim=1), torch.ones(CFG.n_mels), atol=1e-3, rtol=0)
        assert (x[i][:, ~mask[i]] == 0).all()


def test_a_constant_colouring_of_the_microphone_is_removed_by_mean_normalisation():
    """A fixed gain per band (an equaliser, another microphone) is an offset per band in the log domain."""
    features = LogMel(CFG, "mean")
    waves, lengths = waves_of([32000], seed=4)
    coloured = torch.fft.irfft(torch.fft.rfft(waves) * torch.linspace(2.0, 0.5, 16001), n=32000)
    a, _ = features(waves, lengths)
    b, _ = features(coloured, lengths)
    plain = LogMel(CFG, "none")
    assert (plain(waves, lengths)[0] - plain(coloured, lengths)[0]).abs().mean() > 0.2
    assert (a - b).abs().mean() < 0.1


def test_weights_round_trip_and_a_damaged_file_is_refused(tmp_path):
    torch.manual_seed(0)
    model = create_voice_model("voice_cnn", 3, CFG)
    labels = ("angry", "happy", "sad")
    save_voice_model(model, tmp_path / "m", labels=labels, cfg=CFG, extra={"note": "test"})
    loaded, meta = load_voice_model(tmp_path / "m")
    assert tuple(meta["labels"]) == labels and meta["note"] == "test"
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    data = bytearray((tmp_path / "m.safetensors").read_bytes())
    data[-100] ^= 0xFF  # inside a tensor: still a valid safetensors file
    (tmp_path / "m.safetensors").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="checksum mismatch") as err:
        load_voice_model(tmp_path / "m")
    assert "m.safetensors" in str(err.value) and "\n" not in str(err.value)


def test_metadata_of_another_kind_is_refused(tmp_path):
    (tmp_path / "m.json").write_text('{"model": "cfn_sr"}')
    with pytest.raises(ConfigError, match="not a voice model"):
        read_voice_meta(tmp_path / "m")


def test_an_unknown_voice_model_names_the_known_ones():
    with pytest.raises(ConfigError, match="voice_cnn"):
        create_voice_model("nope", 4, CFG)
