import inspect
import re

import pytest
import torch

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models import create_model, list_models, model_info
from avemotion.models.registry import InputContract, check_input_contract, fitting_models, input_problems, model_params
from avemotion.models.summary import count_parameters, model_rows

# The published RAVDESS accuracies as the specification states them (../shared/SPEC.md, section 4),
# read from that text: a registered figure that is not the paper's fails, whatever its range.
SPEC_NAMES = {"video 3D ResNeXt-50": "video", "audio 1D CNN": "audio", "averaging": "averaging",
              "multiplicative": "multiplicative", "multiplication": "multiplication", "concat+FC": "concat_fc",
              "MCBP": "mcbp", "MMTM": "mmtm", "MSAF": "msaf", "CFN-SR": "cfn_sr", "TACFN": "tacfn",
              "without block": "cfn_sr_no_block", "V->A": "cfn_sr_v2a", "without self-attention": "cfn_sr_no_sa",
              "without residual": "cfn_sr_no_residual"}


def published_accuracies() -> dict[str, float]:
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[2].parent / "shared" / "SPEC.md").read_text()
    text = " ".join(spec[spec.index("Published RAVDESS accuracies"):].split("\n\n")[0].split())
    found = {SPEC_NAMES[m.group(1).strip()]: float(m.group(2))
             for m in re.finditer(r"(?:^|[;:.] )([A-Za-z+>\- 0-9]+?) (\d{2}\.\d{1,2})", text) if m.group(1).strip() in SPEC_NAMES}
    assert len(found) == len(SPEC_NAMES), sorted(set(SPEC_NAMES.values()) - set(found))
    return found


PUBLISHED = published_accuracies()

NAMES = [
    "video", "audio", "averaging", "multiplication", "multiplicative", "concat_fc", "mcbp", "mmtm", "msaf",
    "cfn_sr", "cfn_sr_no_block", "cfn_sr_no_sa", "cfn_sr_no_residual", "cfn_sr_v2a", "tacfn",
]  # fmt: skip

# The published counts (SPEC section 4) for the first block; our documented constructions
# (docs/models.md) for the rest. Facts from outside the code: the registry must agree with them.
EXPECTED_PARAMS = {
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
def test_registry_parameter_count_is_the_expected_one(name):
    assert model_info(name).params == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", list_models())
def test_registry_parameter_count_equals_a_real_cpu_build(name):
    """The meta-device count is the count of the model training builds (real tensors, initialised)."""
    torch.manual_seed(0)
    model = create_model(name)
    assert next(model.parameters()).device.type == "cpu"
    assert model_info(name).params == count_parameters(model)


def test_parameter_count_follows_the_scale():
    assert model_params("cfn_sr", "tiny") == count_parameters(create_model("cfn_sr", scale="tiny"))
    assert model_params("cfn_sr", "tiny") < model_info("cfn_sr").params


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
    assert (info.input.mfcc_shape is not None) == ("audio" in info.modalities)
    assert info.paper_accuracy == PUBLISHED[name], (name, info.paper_accuracy)
    assert info.description


def forward(model, video_shape, audio_shape):
    return model(torch.empty(video_shape, device="meta"), torch.empty(audio_shape, device="meta"))


def paper_shapes(cfg: PreprocessConfig, batch: int = 2) -> tuple[tuple, tuple]:
    return (batch, 3, cfg.num_frames, cfg.frame_size, cfg.frame_size), (batch, cfg.n_mfcc, cfg.mfcc_frames)


@pytest.mark.parametrize("name", NAMES)
def test_paper_preprocess_meets_every_contract(name):
    check_input_contract(name, PreprocessConfig())
    assert name in fitting_models(PreprocessConfig())


@pytest.mark.parametrize("name", NAMES)
def test_model_accepts_the_input_its_contract_admits(name):
    """The model runs on what the paper preprocess produces (30 frames of 224 px, MFCC 13 x 212),
    and, where its contract leaves frames free, on another frame count and size; it refuses an input
    of a declared modality with the wrong shape; an undeclared modality is not read at all."""
    info = model_info(name)
    contract = info.input
    with torch.device("meta"):  # shapes only: 224 px frames without the compute
        model = create_model(name, scale="tiny")  # the architecture of the full model, narrow and shallow
    model = model.to("meta").eval()  # buffers some factories build on the CPU on purpose (MCBP's sketch tables)
    for role in ("video", "audio"):
        assert (getattr(model, f"{role}_encoder") is not None) == (role in info.modalities)
    video, audio = paper_shapes(PreprocessConfig())
    assert forward(model, video, audio).shape == (2, 8)
    if contract.frames is None and contract.frame_size is None:
        assert forward(model, (2, 3, 8, 64, 64), audio).shape == (2, 8)
    if contract.mfcc_shape is not None:
        assert (model.audio_encoder.n_mfcc, model.audio_encoder.mfcc_frames) == contract.mfcc_shape
    n_mfcc, steps = audio[1:]
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


def test_audio_only_cache_is_refused_for_a_video_model_naming_video():
    with pytest.raises(ConfigError, match=r"^model 'cfn_sr' needs video, which the cache does not hold") as err:
        check_input_contract("cfn_sr", PreprocessConfig(modalities=("audio",)))
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith("models that fit it: audio")  # the one audio-only model


def test_audio_only_cache_fits_the_audio_model_only():
    check_input_contract("audio", PreprocessConfig(modalities=("audio",)))
    assert fitting_models(PreprocessConfig(modalities=("audio",))) == ["audio"]


@pytest.mark.parametrize("n_mfcc, mfcc_frames", [(20, 212), (13, 200)])
def test_wrong_mfcc_shape_is_refused(n_mfcc, mfcc_frames):
    preprocess = PreprocessConfig(n_mfcc=n_mfcc, mfcc_frames=mfcc_frames)
    with pytest.raises(ConfigError, match=re.escape(f"needs MFCCs of shape (13, 212), the cache has ({n_mfcc}, {mfcc_frames})")):
        check_input_contract("cfn_sr", preprocess)
    check_input_contract("video", preprocess)  # reads no audio: the MFCC shape is not its business
    assert fitting_models(preprocess) == ["video"]


def test_contract_fixing_frames_refuses_other_frames():
    """A contract that fixes frames and frame size (no registered model does yet) holds a cache to them."""
    contract = InputContract(frames=30, frame_size=224)
    assert input_problems(contract, PreprocessConfig()) == []
    assert input_problems(contract, PreprocessConfig(num_frames=16, frame_size=112), what="the checkpoint") == [
        "needs 30 frames, the checkpoint has 16",
        "needs 224 px frames, the checkpoint has 112 px",
    ]
    assert input_problems(contract, PreprocessConfig(num_frames=16, modalities=("audio",)))[0].startswith("needs video")


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
        ("cfn_sr", {"scale": "tiny", "attention_multiplier": 0}, "attention_multiplier"),
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
