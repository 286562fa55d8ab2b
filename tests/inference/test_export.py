"""`avemotion export`: a run's model as ONNX, checked against PyTorch, and predict through
onnxruntime giving PyTorch's probabilities (real CREMA-D clips: ODbL / DbCL, see their README)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.inference import Recognizer
from avemotion.inference.export import TOLERANCE, OnnxModel, example_inputs, export_run, sidecar
from inference_helpers import make_run, run_predict


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("export_run"), val_acc={0: 0.4, 1: 0.7})
    out = run.parent / "model.onnx"
    meta = export_run(run, out)
    return run, out, meta


def test_export_writes_the_graph_and_its_description(exported):
    run, out, meta = exported
    assert out.stat().st_size > 0 and json.loads(sidecar(out).read_text()) == json.loads(json.dumps(meta))
    assert meta["model"] == "cfn_sr" and meta["fold"] == 1 and meta["inputs"] == ["video", "audio"]
    assert meta["max_abs_diff"] <= TOLERANCE and meta["torch_s"] > 0 and meta["onnxruntime_s"] > 0


def test_onnxruntime_logits_equal_pytorch_on_a_batch_of_clips(exported):
    run, out, meta = exported
    rec = Recognizer.from_run(run, fold=1)
    (net,) = rec._load("cfn_sr")
    inputs = example_inputs(rec.cfg, ("video", "audio"), batch=3, seed=5)
    with torch.no_grad():
        ref = net(inputs["video"], inputs["audio"]).numpy()
    got = OnnxModel(out, ("video", "audio"))(inputs["video"], inputs["audio"]).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_predict_through_onnx_gives_pytorchs_probabilities_on_a_real_clip(exported, crema_clips):
    run, out, _ = exported
    torch_rec = Recognizer.from_run(run, fold=1, pad_short=True)
    onnx_rec = Recognizer.from_run(run, onnx=out, pad_short=True)
    a, b = torch_rec.predict(crema_clips[1]), onnx_rec.predict(crema_clips[1])
    assert a.emotion == b.emotion
    np.testing.assert_allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-5)


def test_predict_cli_onnx_option(monkeypatch, capsys, exported, crema_clips):
    run, out, _ = exported
    code, stdout, err = run_predict(monkeypatch, capsys, crema_clips[0], "--run", run, "--onnx", out,
                                    "--pad-short", "--format", "json", "--no-progress")
    assert code == 0, err
    assert json.loads(stdout)["folds"] == [1]


def test_an_onnx_file_of_another_fold_or_without_its_description_is_refused(exported, tmp_path):
    run, out, _ = exported
    with pytest.raises(ConfigError, match="holds fold 1 only"):
        Recognizer.from_run(run, onnx=out, fold=0)
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(out.read_bytes())
    with pytest.raises(ConfigError, match="lone.onnx.json is missing"):
        Recognizer.from_run(run, onnx=lone)


def test_export_refuses_to_replace_a_file_without_overwrite(exported):
    run, out, _ = exported
    with pytest.raises(ConfigError, match="--overwrite replaces"):
        export_run(run, out)


def test_export_cli_prints_the_check_and_both_times(monkeypatch, capsys, exported, tmp_path):
    import sys

    from avemotion.cli.main import run as cli_main

    run, _, _ = exported
    target = tmp_path / "cli.onnx"
    monkeypatch.setattr(sys, "argv", ["avemotion", "export", str(run), "--out", str(target), "--fold", "0"])
    try:
        cli_main()
        code = 0
    except SystemExit as exit:
        code = exit.code or 0
    out = capsys.readouterr().out
    assert code == 0 and target.is_file()
    assert "fold 0" in out and "max |logit difference| vs PyTorch" in out and "onnxruntime" in out
