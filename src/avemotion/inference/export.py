"""ONNX export of one fold's model of a run, and prediction through onnxruntime.

`export_run(RUN, OUT)` writes OUT (the ONNX graph, inputs `video` (B, 3, T, S, S) float normalised
as in training and/or `audio` (B, n_mfcc, mfcc_frames), output `logits` (B, C), batch dynamic) and
OUT + ".json" (the run, model, fold, preprocessing and its hash: what prediction checks before
using it), then runs both on the same random inputs and refuses a graph whose logits differ from
PyTorch's by more than TOLERANCE. `OnnxModel` is called like the PyTorch model by the Recognizer
(`Recognizer.from_run(..., onnx=OUT)`, `avemotion predict --onnx OUT`); the preprocessing is the
same code path, only the forward pass changes.
"""

from __future__ import annotations

import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from avemotion.errors import ConfigError
from avemotion.utils.io import atomic_path, file_sha256, read_json, write_json
from avemotion.utils.targets import check_targets

# Largest absolute difference of logits accepted between onnxruntime and PyTorch (float32; the
# measured difference is about 1e-7 for the tiny CFN-SR, 1e-5 for the full-size one).
TOLERANCE = 1e-3
OPSET = 17


class _Forward(torch.nn.Module):
    """The model with only its run's modalities as inputs (an ONNX graph has no optional input)."""

    def __init__(self, model: torch.nn.Module, modalities: tuple[str, ...]):
        super().__init__()
        self.model, self.modalities = model, modalities

    def forward(self, *inputs):
        given = dict(zip(self.modalities, inputs))
        return self.model(given.get("video"), given.get("audio"))


def example_inputs(cfg, modalities, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs of the shapes the run's preprocessing gives."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"video": (batch, 3, cfg.num_frames, cfg.frame_size, cfg.frame_size), "audio": (batch, cfg.n_mfcc, cfg.mfcc_frames)}
    return {m: torch.randn(shapes[m], generator=g) for m in modalities}


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError('ONNX needs onnxruntime and onnx: pip install -e ".[onnx]"') from None
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise ConfigError(f"{path}: not a usable ONNX model ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None


class OnnxModel:
    """An exported model called like the PyTorch one: (video, audio) tensors -> logits tensor."""

    def __init__(self, path: str | Path, modalities: tuple[str, ...]):
        self.path, self.modalities = Path(path), tuple(modalities)
        self.session = _session(self.path)

    def __call__(self, video, audio) -> torch.Tensor:
        given = {"video": video, "audio": audio}
        feeds = {m: given[m].detach().cpu().float().numpy() for m in self.modalities}
        return torch.from_numpy(self.session.run(["logits"], feeds)[0])


def sidecar(path: str | Path) -> Path:
    return Path(str(path) + ".json")


def read_export(path: str | Path) -> dict:
    """The sidecar of an exported model, the graph's bytes verified against the SHA-256 it records;
    ConfigError (one line) when either file is missing, or the graph is damaged or replaced."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such ONNX file")
    if not sidecar(path).is_file():
        raise ConfigError(f"{path}: its description {sidecar(path).name} is missing (written by `avemotion export`)")
    meta = read_json(sidecar(path))
    if not isinstance(meta, dict) or not meta.get("sha256"):
        raise ConfigError(f"{sidecar(path)}: not an export's description (no model and SHA-256); export the run again")
    if file_sha256(path) != meta["sha256"]:
        raise ConfigError(f"{path}: checksum mismatch: the file is damaged or was replaced (SHA-256 differs from {sidecar(path).name})")
    return meta


def check_export(meta: dict, path: Path, model: str, cfg) -> None:
    """ConfigError unless the exported model is the run's model with the run's preprocessing."""
    if meta.get("model") != model:
        raise ConfigError(f"{path}: exported from model {meta.get('model')!r}, the run predicts with {model!r}")
    from avemotion.inference.runs import PREDICT_OVERRIDABLE

    def fixed(settings: dict) -> dict:  # the settings that shape the model's inputs
        return {k: v for k, v in settings.items() if k not in PREDICT_OVERRIDABLE}

    try:
        recorded = type(cfg).from_dict(meta.get("preprocess") or {}).to_dict()  # JSON lists back to tuples
    except (TypeError, ValueError):
        recorded = {}
    if fixed(recorded) != fixed(cfg.to_dict()):
        raise ConfigError(f"{path}: exported with other preprocessing than the run's; export the run again")


def export_run(run: str | Path, out: str | Path, *, model: str | None = None, fold: int | None = None,
               overwrite: bool = False, repeats: int = 5) -> dict:
    """Export the run's model of one fold (default: the best-validated one, as predict picks it)
    to `out`; returns the sidecar dict with the check ("max_abs_diff") and the forward times of
    PyTorch and onnxruntime for one clip ("torch_s", "onnxruntime_s", medians of `repeats`)."""
    from avemotion.inference.recognizer import Recognizer

    out = Path(out)
    check_targets([("--out", out), ("--out", sidecar(out))], [], overwrite, [Path(run)])
    rec = Recognizer.from_run(run, model=model, fold=fold)
    (net,) = rec._load(rec.run.model)
    modalities = rec.modalities
    inputs = example_inputs(rec.cfg, modalities)
    wrapper = _Forward(net.cpu(), modalities).eval()  # export restores the top module's mode on the whole tree
    axes = {m: {0: "batch"} for m in modalities} | {"logits": {0: "batch"}}
    # the Transformer's fused inference kernel (_native_multi_head_attention) has no ONNX form:
    # trace the plain attention ops, which compute the same thing
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    # written beside OUT and renamed only once checked: an interrupted or refused export leaves
    # nothing under OUT's name (and an existing OUT intact)
    with atomic_path(out) as tmp:
        try:
            with warnings.catch_warnings():
                # the encoders' shape checks are constants for the traced shapes: not the user's business
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                torch.onnx.export(wrapper, tuple(inputs.values()), str(tmp), dynamo=False, opset_version=OPSET,
                                  input_names=list(modalities), output_names=["logits"], dynamic_axes=axes)
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
        meta = {"run": str(Path(run).resolve()), "model": rec.run.model, "fold": rec.folds[0], "inputs": list(modalities),
                "preprocess": rec.cfg.to_dict(), "preprocess_hash": rec.cfg.hash(), "opset": OPSET,
                "torch": torch.__version__, "sha256": file_sha256(tmp)}
        meta.update(compare(wrapper, OnnxModel(tmp, modalities), rec.cfg, modalities, repeats))
        if meta["max_abs_diff"] > TOLERANCE:
            raise ConfigError(f"{out}: onnxruntime's logits differ from PyTorch's by {meta['max_abs_diff']:.2g} "
                              f"(more than {TOLERANCE:g}); not written")
    write_json(sidecar(out), meta)
    return meta


def compare(wrapper: torch.nn.Module, onnx: OnnxModel, cfg, modalities, repeats: int) -> dict:
    """Largest logit difference on a batch of 2 random clips, and the median forward time of one clip."""
    check = example_inputs(cfg, modalities, batch=2, seed=1)
    with torch.no_grad():
        ref = wrapper(*check.values()).numpy()
    got = onnx(check.get("video"), check.get("audio")).numpy()
    one = example_inputs(cfg, modalities, batch=1, seed=2)

    def median_time(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    with torch.no_grad():
        torch_s = median_time(lambda: wrapper(*one.values()))
    onnx_s = median_time(lambda: onnx(one.get("video"), one.get("audio")))
    return {"max_abs_diff": float(np.abs(got - ref).max()), "torch_s": torch_s, "onnxruntime_s": onnx_s,
            "threads": torch.get_num_threads()}
