import inspect
import re

import pytest
import torch

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models import create_model, list_models, model_info
from avemotion.models.summary import count_parameters, model_rows
from avemotion.training.presets import TrainConfig

NAMES = [
    "video", "audio", "averaging", "multiplication", "multiplicative", "concat_fc", "mcbp", "mmtm", "msaf",
    "cfn_sr", "cfn_sr_no_block", "cfn_sr_no_sa", "cfn_sr_no_residual", "cfn_sr_v2a", "tacfn",
]  # fmt: skip

# SPEC section 4 for the first block; our documented constructions (docs/models.md) for the rest.
FULL_PARAMS = {
    "video": 25_882_056,
    "audio": 34_024,
    "averaging": 25_916_080,
    "multiplication": 25_916_080,
    "multiplicative": 25_916_080,
    "concat_fc": 26_868_664,
    "msaf": 25_940_724,
    "cfn_sr": 26_301_417,
    "cfn_sr_no_block": 25_916_072,
    "cfn_sr_no_sa": 26_051_369,
    "cfn_sr_no_residual": 26_301_417,
    "mcbp": 26_014_376,
    "mmtm": 31_496_512,
    "cfn_sr_v2a": 26_305_577,
    "tacfn": 26_305_577,
}


def test_registry_holds_every_model():
    assert sorted(list_models()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_full_size_parameter_count(name):
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = create_model(name)
    assert count_parameters(model) == FULL_PARAMS[name]


def test_tacfn_four_layer_variant_is_the_reported_fusion_size():
    with torch.device("meta"):
        full = create_model("tacfn")
        four = create_model("tacfn", attn_layers=4)
    fusion = count_parameters(four) - count_parameters(create_model("cfn_sr_no_block", scale="full").to("meta"))
    assert count_parameters(full) - count_parameters(four) == 49_984  # one transformer layer
    assert fusion == 339_521  # the "about 0.34M" TACFN reports


@pytest.mark.parametrize("name", NAMES)
def test_entry_declares_its_contract(name):
    info = model_info(name)
    assert info.fusion in ("unimodal", "late", "early", "intermediate")
    assert set(info.modalities) <= {"video", "audio"} and info.modalities
    assert (info.fusion == "unimodal") == (len(info.modalities) == 1)
    assert info.paper_accuracy is not None and 50 < info.paper_accuracy < 80
    assert info.description


def forward(model, video_shape, audio_shape):
    return model(torch.empty(video_shape, device="meta"), torch.empty(audio_shape, device="meta"))


@pytest.mark.parametrize("name", NAMES)
def test_model_accepts_the_input_its_entry_declares(name):
    """The model runs on the declared input (30 frames of 224 px, MFCC 13 x 212), the
    paper preset the data pipeline and the paper training preset produce, and refuses an input of
    a declared modality with the wrong shape; an undeclared modality is not read at all."""
    info = model_info(name)
    contract = info.input
    cfg = PreprocessConfig()
    assert (contract.frames, contract.frame_size) == (cfg.num_frames, cfg.frame_size)
    assert (contract.frames, contract.frame_size) == (TrainConfig().frames, TrainConfig().frame_size)
    assert contract.mfcc_shape == (cfg.n_mfcc, cfg.mfcc_frames)
    with torch.device("meta"):  # shapes only: 224 px frames without the compute
        model = create_model(name, scale="tiny")  # the architecture of the full model, narrow and shallow
    model = model.to("meta").eval()  # buffers some factories build on the CPU on purpose (MCBP's sketch tables)
    for role in ("video", "audio"):
        assert (getattr(model, f"{role}_encoder") is not None) == (role in info.modalities)
    video = (2, 3, contract.frames, contract.frame_size, contract.frame_size)
    audio = (2, *contract.mfcc_shape)
    assert forward(model, video, audio).shape == (2, 8)
    n_mfcc, steps = contract.mfcc_shape
    wrong_audio = [(2, n_mfcc, steps - 1), (2, n_mfcc + 1, steps), (2, n_mfcc * steps)]
    wrong_video = [(2, 1, *video[2:]), video[:4]]  # grey frames; no time axis
    for wrong, role in [(w, "audio") for w in wrong_audio] + [(w, "video") for w in wrong_video]:
        args = (wrong, audio) if role == "video" else (video, wrong)
        if role == "audio" and role in info.modalities:
            with pytest.raises(ValueError, match=re.escape(f"(B, {n_mfcc}, {steps})")):
                forward(model, *args)
        elif role in info.modalities:
            with pytest.raises(RuntimeError):  # the 3D convolution takes (B, 3, T, H, W) only
                forward(model, *args)
        else:
            assert forward(model, *args).shape == (2, 8)


@pytest.mark.parametrize("name", NAMES)
def test_factories_are_keyword_only_with_scale(name):
    params = inspect.signature(model_info(name).factory).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["scale"].default == "full"
    assert params["num_classes"].default == 8


def test_create_model_records_name_and_config():
    model = create_model("cfn_sr", num_classes=6, scale="tiny", attention="batch_sum")
    assert model.avemotion_name == "cfn_sr"
    assert model.avemotion_config == {"scale": "tiny", "attention": "batch_sum", "num_classes": 6}
    assert model.head.out_features == 6


@pytest.mark.parametrize(
    "name, config, message",
    [
        ("nope", {}, "unknown model"),
        ("video", {"scale": "huge"}, "scale must be one of"),
        ("cfn_sr", {"scale": "tiny", "attention": "mean"}, "attention must be one of"),
        ("cfn_sr", {"scale": "tiny", "attention_scale": 0}, "attention_scale"),
        ("multiplicative", {"scale": "tiny", "beta": 2.0}, "beta"),
        ("tacfn", {"scale": "tiny", "attn_layers": 0}, "attn_layers"),
        ("audio", {"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_config_is_a_config_error(name, config, message):
    with pytest.raises(ConfigError, match=message):
        create_model(name, **config)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError):
        create_model("video", scale="tiny", attention="batch_sum")


def test_model_rows_match_registry():
    rows = model_rows("tiny")
    assert [r["name"] for r in rows] == list_models()
    tiny_cfn = next(r for r in rows if r["name"] == "cfn_sr")
    assert 100_000 < tiny_cfn["params"] < 1_000_000
