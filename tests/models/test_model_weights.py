"""Weight loaders: unimodal -> fusion (two-stage recipe) and a Kinetics 3D-ResNets checkpoint -> video."""

import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.models import create_model, load_kinetics


def trained_unimodal():
    torch.manual_seed(1)
    video, audio = create_model("video", scale="tiny"), create_model("audio", scale="tiny")
    with torch.no_grad():  # make every tensor distinctive, running stats included
        for model in (video, audio):
            for name, t in model.state_dict().items():
                if t.is_floating_point():
                    t.add_(torch.rand_like(t) + 0.5)
    return video, audio


def assert_prefix_equal(target, source, prefix):
    src = {k: v for k, v in source.state_dict().items() if k.startswith(prefix)}
    dst = target.state_dict()
    assert src
    for k, v in src.items():
        assert torch.equal(dst[k], v), k


@pytest.mark.parametrize("name, heads_kept", [("msaf", True), ("concat_fc", True), ("multiplicative", True), ("cfn_sr", False), ("tacfn", False)])
def test_unimodal_weights_round_trip(name, heads_kept):
    video, audio = trained_unimodal()
    fusion = create_model(name, scale="tiny")
    report = fusion.load_unimodal(video, audio)
    assert_prefix_equal(fusion, video, "video_encoder.")
    assert_prefix_equal(fusion, audio, "audio_encoder.")
    if heads_kept:
        assert_prefix_equal(fusion, video, "video_head.")
        assert_prefix_equal(fusion, audio, "audio_head.")
        assert report.unexpected == ()
    else:
        assert set(report.unexpected) == {"video_head.weight", "video_head.bias", "audio_head.fc.weight", "audio_head.fc.bias"}
    # what stays untouched is exactly the fusion part (late fusion has none)
    assert bool(report.missing) == (name != "multiplicative")
    assert not any(k.startswith(("video_", "audio_")) for k in report.missing)
    assert report.mismatched == ()
    assert report.loaded > 0


def test_unimodal_shape_mismatch_is_reported_not_loaded():
    video = create_model("video", scale="tiny", num_classes=6)
    fusion = create_model("msaf", scale="tiny")
    before = fusion.video_head.weight.clone()
    report = fusion.load_unimodal(video, None)
    assert set(report.mismatched) == {"video_head.weight", "video_head.bias"}
    assert torch.equal(fusion.video_head.weight, before)
    assert any(k.startswith("audio_encoder.") for k in report.missing)


def test_load_unimodal_refuses_the_wrong_modality():
    audio = create_model("audio", scale="tiny")
    with pytest.raises(ConfigError, match="no video encoder"):
        create_model("cfn_sr", scale="tiny").load_unimodal(audio, None)
    with pytest.raises(ConfigError, match="give a video model"):
        create_model("cfn_sr", scale="tiny").load_unimodal(None, None)


def write_kinetics(path, model, num_classes=400, drop_counters=False):
    """The common 3D-ResNets layout: {'state_dict': {'module.conv1.weight': ...}, 'epoch', 'arch'}."""
    state = {f"module.{k}": v.clone() for k, v in model.video_encoder.state_dict().items()}
    if drop_counters:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["module.fc.weight"] = torch.randn(num_classes, model.video_encoder.out_channels)
    state["module.fc.bias"] = torch.randn(num_classes)
    torch.save({"epoch": 200, "arch": "resnext-50", "state_dict": state}, path)
    return state


def test_kinetics_round_trip_into_video_model(tmp_path):
    source, _ = trained_unimodal()
    path = tmp_path / "resnext-50-kinetics.pth"
    write_kinetics(path, source, drop_counters=True)
    target = create_model("video", scale="tiny")
    report = load_kinetics(target, path)
    assert_prefix_equal(target, source, "video_encoder.")
    assert set(report.mismatched) == {"fc.weight", "fc.bias"}  # 400 Kinetics classes, not loaded
    assert report.missing == ()  # num_batches_tracked counters are not weights
    assert report.unexpected == ()


def test_kinetics_fc_of_matching_shape_loads(tmp_path):
    source, _ = trained_unimodal()
    path = tmp_path / "k.pth"
    state = write_kinetics(path, source, num_classes=8)
    target = create_model("video", scale="tiny")
    report = load_kinetics(target, path)
    assert torch.equal(target.video_head.weight, state["module.fc.weight"])
    assert report.mismatched == () and report.unexpected == ()


def test_kinetics_into_fusion_model_reports_the_classifier(tmp_path):
    source, _ = trained_unimodal()
    path = tmp_path / "k.pth"
    write_kinetics(path, source)
    fusion = create_model("cfn_sr", scale="tiny")
    report = load_kinetics(fusion, path)
    assert_prefix_equal(fusion, source, "video_encoder.")
    assert set(report.unexpected) == {"fc.weight", "fc.bias"}


def test_kinetics_bad_files(tmp_path):
    model = create_model("video", scale="tiny")
    with pytest.raises(ConfigError, match="no such checkpoint"):
        load_kinetics(model, tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable torch checkpoint"):
        load_kinetics(model, junk)
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"a": "b"}}, other)
    with pytest.raises(ConfigError, match="state_dict"):
        load_kinetics(model, other)
    with pytest.raises(ConfigError, match="no video encoder"):
        load_kinetics(create_model("audio", scale="tiny"), other)


def test_kinetics_wrong_architecture_is_all_mismatched(tmp_path):
    full_names = create_model("video", scale="tiny")  # tiny widths vs a different tiny: force mismatch
    path = tmp_path / "k.pth"
    state = {f"module.{k}": torch.zeros(3) for k in full_names.video_encoder.state_dict() if k.endswith("weight")}
    torch.save({"state_dict": state}, path)
    report = load_kinetics(create_model("video", scale="tiny"), path)
    assert report.loaded == 0 and len(report.mismatched) == len(state)
