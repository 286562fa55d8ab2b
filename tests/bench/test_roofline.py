"""bench/bench_roofline.py: the analytical counts behind the README's expected time per fold.

The script is not part of the package (bench/ is not importable); it is loaded from its path. Every
model here is built on the "meta" device: shapes only, so the full-size network costs about a second.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from avemotion.models import create_model

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_roofline.py"


@pytest.fixture(scope="module")
def roofline():
    spec = importlib.util.spec_from_file_location("bench_roofline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def video_b1(roofline):
    return roofline.analyse("video", batch=1, with_input=False)


@pytest.fixture(scope="module")
def cfn_sr_b16(roofline):
    return roofline.analyse("cfn_sr", batch=16)


def test_forward_flops_match_flop_counter(roofline, video_b1):
    # The analytical conv/linear count against torch's own counter (which counts forward correctly).
    with torch.device("meta"):
        model = create_model("video", scale="full")
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 30, 224, 224, device="meta"))
    ours = sum(layer.fwd_flops for layer in video_b1 if layer.matmul)
    assert ours == pytest.approx(counter.get_total_flops(), rel=0.02)
    assert ours == pytest.approx(113.2e9, rel=0.02)  # docs/benchmarks.md, bench_models.py


def test_stem_count_and_its_backward_has_no_data_gradient(video_b1):
    stem = [layer for layer in video_b1 if layer.kind == "stem conv 7x7x7"]
    assert len(stem) == 1
    # 64 filters of 3x7x7x7 on a 30x112x112 output (stride 1,2,2)
    assert stem[0].fwd_flops == 2 * 64 * 30 * 112 * 112 * 3 * 7 ** 3
    assert stem[0].bwd_flops == stem[0].fwd_flops  # weight gradient only: the video needs no gradient
    for layer in video_b1:
        if layer.matmul and layer.kind != "stem conv 7x7x7" and layer.kind != "fc (head)":
            assert layer.bwd_flops == 2 * layer.fwd_flops, layer.name


def test_layer_inventory_of_resnext50(video_b1):
    kinds = [layer.kind for layer in video_b1]
    assert kinds.count("1x1x1 convs") == 2 * 16  # conv1 + conv3 of 16 bottlenecks (3, 4, 6, 3)
    assert kinds.count("grouped 3x3x3 convs") == 16
    assert kinds.count("downsample convs") == 4
    assert kinds.count("BatchNorm") == 1 + 3 * 16 + 4
    assert kinds.count("ReLU / residual add") == 1 + 4 * 16  # stem ReLU; 3 ReLU + 1 add per block
    grouped = [layer for layer in video_b1 if layer.kind == "grouped 3x3x3 convs"]
    assert all(layer.meta["groups"] == 32 and layer.meta["kernel"] == (3, 3, 3) for layer in grouped)


def test_grouped_convs_have_lower_intensity_than_the_1x1x1_of_their_stage(roofline, cfn_sr_b16):
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        grouped = roofline.stage_intensity(cfn_sr_b16, stage, "grouped 3x3x3 convs")
        pointwise = roofline.stage_intensity(cfn_sr_b16, stage, "1x1x1 convs")
        assert grouped < pointwise, stage
    # and the intensity grows with depth (fewer positions, more channels per group)
    ai = [roofline.stage_intensity(cfn_sr_b16, s, "grouped 3x3x3 convs") for s in ("layer1", "layer2", "layer3", "layer4")]
    assert ai == sorted(ai)


def test_which_resource_bounds_each_kind_on_h100(roofline, cfn_sr_b16):
    h100 = next(g for g in roofline.gpus() if g.name == "H100 SXM")
    kinds = roofline.by_kind(cfn_sr_b16, h100, 16)
    for kind in ("BatchNorm", "ReLU / residual add", "grouped 3x3x3 convs", "optimizer (Adam)",
                 "input: crop + normalise on device", "input: host->device copy"):
        assert kinds[kind]["mem_share"] >= 0.9, kind
    assert kinds["stem conv 7x7x7"]["mem_share"] <= 0.1
    assert kinds["grouped 3x3x3 convs"]["ai"] < h100.flops / h100.bw < kinds["stem conv 7x7x7"]["ai"]


def test_per_clip_flops_do_not_depend_on_batch_but_weight_bytes_amortise(roofline, video_b1):
    b4 = roofline.analyse("video", batch=4, with_input=False)
    per_clip = lambda layers, b, key: sum(getattr(layer, key) for layer in layers if not layer.per_step) / b  # noqa: E731
    assert per_clip(b4, 4, "fwd_flops") == pytest.approx(per_clip(video_b1, 1, "fwd_flops"), rel=1e-9)
    assert per_clip(b4, 4, "fwd_bytes") < per_clip(video_b1, 1, "fwd_bytes")


def test_fold_bound_is_a_roofline_and_grows_as_efficiency_falls(roofline, cfn_sr_b16):
    eval_layers = [layer for layer in roofline.analyse("cfn_sr", batch=16, train=False) if not layer.per_step]
    for gpu in roofline.gpus():
        bound = roofline.fold_time(cfn_sr_b16, eval_layers, gpu, 16)
        # per-kernel maxima summed are at least each resource alone
        train_f = sum(layer.fwd_flops + layer.bwd_flops for layer in cfn_sr_b16) / 16
        train_b = sum(layer.fwd_bytes + layer.bwd_bytes for layer in cfn_sr_b16 if layer.link == "hbm") / 16
        clips = roofline.EPOCHS * roofline.TRAIN_CLIPS
        assert bound >= clips * train_f / gpu.flops
        assert bound >= clips * train_b / gpu.bw
        times = [roofline.fold_time(cfn_sr_b16, eval_layers, gpu, 16, compute_eff=e, mem_eff=0.7) for e in (1.0, 0.25, 0.15, 0.08)]
        assert bound < times[0] and times == sorted(times)
        # no epochs: only the test fold's forward
        assert roofline.fold_time(cfn_sr_b16, eval_layers, gpu, 16, epochs=0) < bound / 100


def test_main_prints_the_tables(roofline, capsys):
    roofline.main(["--model", "video", "--batch", "2", "--peak-tflops", "500", "--peak-tbs", "2"])
    out = capsys.readouterr().out
    assert out.startswith("# bench_roofline ")
    for text in ("| **total** |", "| custom |", "| H100 SXM |", "| H200 |", "bound per fold", "convs at 15 %"):
        assert text in out, text
