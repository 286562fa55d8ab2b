"""Roofline of a CFN-SR training step on an H100/H200: what bounds it, layer kind by layer kind (analytical).

    python bench/bench_roofline.py                          # cfn_sr, full size, batch 16, 30x224x224
    python bench/bench_roofline.py --model video --batch 8
    python bench/bench_roofline.py --peak-tflops 600 --peak-tbs 3.0   # another GPU, or measured rates

No GPU is needed and nothing is timed: the model is built on the "meta" device (shapes only, no
memory, no arithmetic) and run forward once on a batch of `--batch` clips. Forward hooks on every
leaf module (Conv, Linear, BatchNorm, pooling, LayerNorm, Dropout) and a dispatch mode for the
functional operations between them (the bottlenecks' ReLU and residual add, the fusion block's
attention matmuls, tanh, softmax, products) record each layer's shapes. Per layer:

- forward FLOPs, analytical (a multiply-add = 2 FLOPs, bias ignored, as FlopCounterMode counts):
  Conv: 2 * output elements * (C_in / groups) * kernel volume; Linear: 2 * output elements * C_in;
  attention matmuls from torch.utils.flop_counter's formulas; elementwise/normalisation/pooling a
  few FLOPs per element (they never matter: their bound is memory);
- backward FLOPs = 2x forward for convolutions and matmuls (data gradient + weight gradient), 1x for
  a convolution whose input needs no gradient (the stem: the video is not a leaf that learns).
  torch 2.13's FlopCounterMode overcounts grouped-convolution backward (docs/benchmarks.md), so it
  is not used for the backward;
- minimum bytes moved between the GPU's memory and its chips by one kernel per layer, as PyTorch
  issues them (no fusion across layers): activations and weights in bf16 (2 bytes; autocast),
  each input read once and each output written once. Backward of a convolution: weight gradient
  (reads dy and x, writes dW) + data gradient (reads dy and W, writes dx). BatchNorm/LayerNorm:
  forward x -> y, backward dy, x -> dx. ReLU: forward x -> y, backward dy, y -> dx. Residual add:
  forward 2 -> 1, backward the gradient summed where the block's input forks (2 -> 1). Max-pool:
  plus a 1-byte argmax per output. Optimiser step (Adam with fp32 master weights, per step, shared
  by the batch): 40 bytes per parameter (read param, grad, m, v; write param, m, v: 28; autocast's
  fp32->bf16 weight copy 6; bf16 weight gradient accumulated into fp32 6);
- the input on the GPU: the uint8 clips' copy from host memory over PCIe, and the crop/resize and
  normalisation the training step runs on the device (the ops the code issues, with their dtypes).

The time bound of a layer on a GPU is max(FLOPs / peak FLOP/s, bytes / peak bandwidth) for its
forward and for its backward (a per-kernel roofline); a layer kind is "compute" or "memory" bound by
which side of that max dominates its time. Per fold (paper preset, fusion stage): 70 epochs of
960 training clips (forward + backward + optimiser) and 240 validation clips (forward), then the
240 test clips once. Then the same under achieved efficiencies: convolutions and matmuls at
25 %, 15 % and 8 % of the tensor-core peak, memory-bound kernels at 70 % of the bandwidth.
These are bounds and estimates, not measurements: see docs/benchmarks.md for what to run on a GPU.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from avemotion.models import create_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine  # noqa: E402

ACT_BYTES = 2  # bf16 activations and weights under autocast
ADAM_BYTES_PER_PARAM = 40  # see the module docstring
ADAM_FLOPS_PER_PARAM = 12

# NVIDIA datasheets: dense (no sparsity) BF16 tensor-core peak, HBM bandwidth, PCIe Gen5 x16
# (128 GB/s both directions together: 64 GB/s host -> device).
SOURCE = "NVIDIA H100 Tensor Core GPU datasheet; NVIDIA H200 Tensor Core GPU datasheet"
GPUS = {
    "H100 SXM": {"tflops": 989.0, "tbs": 3.35, "pcie_gbs": 64.0, "source": "H100 datasheet: BF16 1,979 TFLOPS with sparsity (989 dense), HBM3 3.35 TB/s"},
    "H100 PCIe": {"tflops": 756.0, "tbs": 2.0, "pcie_gbs": 64.0, "source": "H100 datasheet: BF16 1,513 TFLOPS with sparsity (756 dense), HBM2e 2 TB/s"},
    "H200": {"tflops": 989.0, "tbs": 4.8, "pcie_gbs": 64.0, "source": "H200 datasheet: BF16 1,979 TFLOPS with sparsity (989 dense), HBM3e 4.8 TB/s"},
}

# Paper preset, fusion stage, per fold: RAVDESS 24 actors x 60 clips; 4 test, 4 validation, 16 training actors.
TRAIN_CLIPS, VAL_CLIPS, TEST_CLIPS, EPOCHS, FOLDS = 960, 240, 240, 70, 6
EFFICIENCIES = (0.25, 0.15, 0.08)  # convolutions/matmuls, fraction of the tensor-core peak (an assumption)
MEMORY_EFFICIENCY = 0.70  # memory-bound kernels, fraction of the bandwidth (an assumption)

KINDS = (
    "input: host->device copy",
    "input: crop + normalise on device",
    "stem conv 7x7x7",
    "1x1x1 convs",
    "grouped 3x3x3 convs",
    "downsample convs",
    "BatchNorm",
    "ReLU / residual add",
    "pooling",
    "audio encoder",
    "fusion block",
    "fc (head)",
    "optimizer (Adam)",
)
MATMUL_KINDS = {"stem conv 7x7x7", "1x1x1 convs", "grouped 3x3x3 convs", "downsample convs"}
# Elementwise traffic that fusion (torch.compile, cuDNN conv+BN+ReLU fusion, a one-kernel normalisation)
# could remove: the "fused" rows drop it entirely, the most fusion could buy.
FUSIBLE_KINDS = {"BatchNorm", "ReLU / residual add", "input: crop + normalise on device"}


@dataclass
class Layer:
    """One kernel (or one op) of a forward pass of a batch, with its backward. Figures per batch."""

    name: str
    kind: str
    fwd_flops: float
    fwd_bytes: float
    bwd_flops: float = 0.0
    bwd_bytes: float = 0.0
    matmul: bool = False  # runs on the tensor cores (convolutions, linears, attention matmuls)
    per_step: bool = False  # once per optimiser step, not per batch of forward
    link: str = "hbm"  # "pcie" for the host->device copy
    stage: str = ""  # "layer1".."layer4" for the ResNeXt stages, else ""
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Recording: hooks on leaf modules, a dispatch mode for the functional ops between them.


def _tensors(obj):
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


def _nbytes(t: torch.Tensor, actual: bool) -> int:
    if actual or not t.is_floating_point():
        return t.numel() * t.element_size()
    return t.numel() * ACT_BYTES


def _is_leaf(m: nn.Module) -> bool:
    return next(m.children(), None) is None


def _stage(name: str) -> str:
    for part in name.split("."):
        if part.startswith("layer") and part[5:].isdigit():
            return part
    return ""


def classify(name: str, module: nn.Module | None, op: str, stack_types: tuple[str, ...]) -> str:
    """The layer kind of a module (or of a functional op inside the modules on the stack)."""
    if "AudioEncoder" in stack_types or "AudioHead" in stack_types:
        return "audio encoder"
    if "SelfAttentionEncoder" in stack_types or "GuidedAttention" in stack_types:
        return "fusion block"
    if isinstance(module, nn.Conv3d):
        if ".downsample." in f".{name}.":
            return "downsample convs"
        if module.groups > 1:
            return "grouped 3x3x3 convs"
        if all(k == 1 for k in module.kernel_size):
            return "1x1x1 convs"
        return "stem conv 7x7x7"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "BatchNorm"
    if isinstance(module, (nn.MaxPool3d, nn.AvgPool3d, nn.AdaptiveAvgPool3d)):
        return "pooling"
    if isinstance(module, nn.Linear):
        return "fc (head)"
    if module is None:  # a functional op
        if "VideoEncoder" in stack_types:
            return "ReLU / residual add"
        if op in ("mean", "avg_pool3d", "adaptive_avg_pool3d"):
            return "pooling"  # pool_video
        if op == "cat":
            return "fc (head)"  # the head's input: pooled video ++ flattened audio
    return "fusion block"  # e.g. CFN-SR's reinforcement, video * weights + video, in the model's forward


def leaf_layer(name: str, module: nn.Module, inputs, output, kind: str) -> Layer:
    x = _tensors(inputs)[0]
    y = _tensors(output)[0]
    ax, ay = x.numel() * ACT_BYTES, y.numel() * ACT_BYTES
    w = sum(p.numel() for p in module.parameters(recurse=False)) * ACT_BYTES
    stage = _stage(name)
    if isinstance(module, nn.modules.conv._ConvNd):
        macs = y.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
        fwd = 2.0 * macs
        needs_dx = x.requires_grad
        wgrad_bytes = ay + ax + w  # reads dy and x, writes dW
        dgrad_bytes = ay + w + ax  # reads dy and W, writes dx
        return Layer(name, kind, fwd, ax + ay + w, fwd * (2 if needs_dx else 1),
                     wgrad_bytes + (dgrad_bytes if needs_dx else 0), matmul=True, stage=stage,
                     meta={"groups": module.groups, "kernel": tuple(module.kernel_size), "needs_dx": needs_dx})
    if isinstance(module, nn.Linear):
        macs = y.numel() * module.in_features
        pool = x.numel() if x.shape[-1] != module.in_features else 0  # VideoHead pools its 5-D input first
        fwd = 2.0 * macs + pool
        return Layer(name, kind, fwd, ax + ay + w, 4.0 * macs + pool, 2 * ay + 2 * ax + 2 * w, matmul=True, stage=stage)
    if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)):
        n = x.numel()
        return Layer(name, kind, 4.0 * n, ax + ay + w, 6.0 * n, ay + ax + ax + w, stage=stage)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        k = module.kernel_size
        window = math.prod(k) if isinstance(k, tuple) else k ** (x.dim() - 2)
        argmax = y.numel()  # one byte per output
        return Layer(name, kind, float(y.numel() * window), ax + ay + argmax, float(x.numel()), ay + argmax + ax, stage=stage)
    if isinstance(module, nn.Dropout):
        mask = x.numel()
        return Layer(name, kind, float(x.numel()), ax + ay + mask, float(x.numel()), ay + mask + ax, stage=stage)
    # Anything else: elementwise in -> out.
    return Layer(name, kind, float(y.numel()), ax + ay + w, float(x.numel()), ay + 2 * ax + w, stage=stage)


def functional_layer(name: str, func, args, kwargs, out, kind: str, actual: bool) -> Layer | None:
    op = func.overloadpacket.__name__
    ins = _tensors((args, kwargs))
    outs = _tensors(out)
    if not outs:
        return None
    b_in = sum(_nbytes(t, actual) for t in ins)
    b_out = sum(_nbytes(t, actual) for t in outs)
    stage = _stage(name)
    if func.overloadpacket in flop_registry and op not in ("convolution", "convolution_backward"):
        # mm, addmm, bmm, scaled-dot-product attention: torch.utils.flop_counter's formulas.
        shapes = lambda x: x.shape if isinstance(x, torch.Tensor) else x  # noqa: E731
        fwd = float(flop_registry[func.overloadpacket](*[shapes(a) for a in args],
                                                       **{k: shapes(v) for k, v in (kwargs or {}).items()},
                                                       out_val=out))
        return Layer(f"{name}:{op}", kind, fwd, b_in + b_out, 2 * fwd, 2 * (b_in + b_out), matmul=True, stage=stage)
    n = max(t.numel() for t in outs)
    if not ins:  # creation ops (positions, masks): no gradient
        return Layer(f"{name}:{op}", kind, 0.0, b_out, 0.0, 0.0, stage=stage)
    if op in ("add", "sub", "add_"):
        bwd_bytes = 3 * b_out  # the gradient summed where the block's input forks
    else:
        bwd_bytes = b_out + 2 * b_in  # reads dy and the saved inputs, writes their gradients
    return Layer(f"{name}:{op}", kind, float(n), b_in + b_out, 2.0 * n, bwd_bytes, stage=stage)


# Ops that move no data (reshapes returning a view, allocation without initialisation).
NO_TRAFFIC = {"_unsafe_view", "detach", "alias", "lift_fresh", "empty", "empty_like", "empty_strided", "new_empty"}


class _Recorder(TorchDispatchMode):
    """Sees every aten op; keeps those that run outside a leaf module (the leaf hooks count those)."""

    def __init__(self, tracer: "Tracer"):
        super().__init__()
        self.tracer = tracer

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        t = self.tracer
        if t.leaf_depth == 0 and not func.is_view and func.overloadpacket.__name__ not in NO_TRAFFIC:
            name = t.stack[-1][0] if t.stack else t.root
            types_ = tuple(type(m).__name__ for _, m in t.stack)
            kind = t.force_kind or classify(name, None, func.overloadpacket.__name__, types_)
            layer = functional_layer(name, func, args, kwargs, out, kind, t.actual_dtypes)
            if layer is not None:
                t.layers.append(layer)
        return out


class Tracer:
    def __init__(self, model: nn.Module, root: str = "model"):
        self.model = model
        self.root = root
        self.stack: list[tuple[str, nn.Module]] = []
        self.leaf_depth = 0
        self.layers: list[Layer] = []
        self.force_kind: str | None = None
        self.actual_dtypes = False
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._pre(name or root)))
            self.handles.append(module.register_forward_hook(self._post(name or root)))

    def _pre(self, name):
        def hook(module, inputs):
            self.stack.append((name, module))
            if _is_leaf(module):
                self.leaf_depth += 1
        return hook

    def _post(self, name):
        def hook(module, inputs, output):
            self.stack.pop()
            if _is_leaf(module):
                self.leaf_depth -= 1
                if self.leaf_depth == 0:
                    types_ = tuple(type(m).__name__ for _, m in self.stack) + (type(module).__name__,)
                    kind = classify(name, module, "", types_)
                    self.layers.append(leaf_layer(name, module, inputs, output, kind))
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def input_layers(batch: int, frames: int, size: int, train: bool, channels_last: bool = True) -> list[Layer]:
    """What the training step does to a batch before the model: the uint8 copy over PCIe, then (on the
    device) the clip-level crop/resize/flip (training only), normalisation, channels_last_3d, and
    autocast's cast to bf16 at the stem. Recorded on meta tensors with their real dtypes."""
    from avemotion.data.transforms import crop_batch, normalize_video

    video = torch.empty(batch, 3, frames, size, size, dtype=torch.uint8, device="meta")
    audio_bytes = batch * 13 * 212 * 4
    layers = [Layer("host->device", "input: host->device copy", 0.0, float(video.numel() + audio_bytes), link="pcie")]
    tracer = Tracer(nn.Identity(), root="input")
    tracer.force_kind, tracer.actual_dtypes = "input: crop + normalise on device", True
    with _Recorder(tracer):
        if train:  # crop_batch: one crop per clip, the box a full-frame crop (typical area ~1.0), flipped
            video = crop_batch(video, [(0, 0, size, size, True)] * batch)
        video = normalize_video(video)
        if channels_last:
            video = video.contiguous(memory_format=torch.channels_last_3d)
        video.to(torch.bfloat16)
    tracer.remove()
    for layer in tracer.layers:  # no backward through the input
        layer.bwd_flops = layer.bwd_bytes = 0.0
    return layers + tracer.layers


def analyse(model_name: str = "cfn_sr", *, batch: int = 16, frames: int = 30, size: int = 224,
            scale: str = "full", with_input: bool = True, train: bool = True) -> list[Layer]:
    """Every layer of one training step (forward + backward + optimiser) of `batch` clips."""
    with torch.device("meta"):
        model = create_model(model_name, scale=scale)
    model.train(train)
    video = torch.empty(batch, 3, frames, size, size, device="meta")
    audio = torch.empty(batch, 13, 212, device="meta")
    tracer = Tracer(model)
    try:
        with _Recorder(tracer):
            model(video, audio)
    finally:
        tracer.remove()
    layers = tracer.layers
    params = sum(p.numel() for p in model.parameters())
    layers.append(Layer("adam", "optimizer (Adam)", 0.0, 0.0, ADAM_FLOPS_PER_PARAM * params,
                        ADAM_BYTES_PER_PARAM * params, per_step=True, meta={"params": params}))
    if with_input:
        layers = input_layers(batch, frames, size, train) + layers
    return layers


# ---------------------------------------------------------------------------------------------
# Roofline arithmetic.


@dataclass(frozen=True)
class GPU:
    name: str
    flops: float  # FLOP/s, dense bf16 tensor cores
    bw: float  # bytes/s, HBM
    pcie: float  # bytes/s host -> device


def gpus(args=None) -> list[GPU]:
    out = [GPU(n, s["tflops"] * 1e12, s["tbs"] * 1e12, s["pcie_gbs"] * 1e9) for n, s in GPUS.items()]
    if args is not None and (args.peak_tflops or args.peak_tbs):
        base = out[0]
        out = [GPU("custom", (args.peak_tflops or base.flops / 1e12) * 1e12, (args.peak_tbs or base.bw / 1e12) * 1e12, base.pcie)] + out
    return out


def pass_time(flops: float, nbytes: float, layer: Layer, gpu: GPU, compute_eff: float = 1.0, mem_eff: float = 1.0) -> tuple[float, bool]:
    """(seconds, memory_bound) of one kernel: max(FLOPs / rate, bytes / bandwidth)."""
    bw = (gpu.pcie if layer.link == "pcie" else gpu.bw) * mem_eff
    rate = gpu.flops * (compute_eff if layer.matmul else 1.0)
    t_c, t_m = flops / rate, nbytes / bw
    return max(t_c, t_m), t_m >= t_c


def layer_time(layer: Layer, gpu: GPU, *, train: bool, compute_eff: float = 1.0, mem_eff: float = 1.0):
    """(seconds, seconds spent memory-bound) of a layer per batch (forward, plus backward if train)."""
    if layer.per_step and not train:
        return 0.0, 0.0
    total = mem = 0.0
    passes = [(layer.fwd_flops, layer.fwd_bytes)] + ([(layer.bwd_flops, layer.bwd_bytes)] if train else [])
    for f, b in passes:
        if f == 0 and b == 0:
            continue
        t, m = pass_time(f, b, layer, gpu, compute_eff, mem_eff)
        total += t
        mem += t if m else 0.0
    return total, mem


def clip_time(layers: list[Layer], gpu: GPU, batch: int, *, train: bool, compute_eff: float = 1.0, mem_eff: float = 1.0) -> float:
    """Seconds per clip: the batch's layers one kernel after another, divided by the batch."""
    return sum(layer_time(l, gpu, train=train, compute_eff=compute_eff, mem_eff=mem_eff)[0] for l in layers) / batch


def fold_time(train_layers, eval_layers, gpu: GPU, batch: int, *, compute_eff: float = 1.0, mem_eff: float = 1.0,
              epochs: int = EPOCHS) -> float:
    t_train = clip_time(train_layers, gpu, batch, train=True, compute_eff=compute_eff, mem_eff=mem_eff)
    t_eval = clip_time(eval_layers, gpu, batch, train=False, compute_eff=compute_eff, mem_eff=mem_eff)
    return epochs * (TRAIN_CLIPS * t_train + VAL_CLIPS * t_eval) + TEST_CLIPS * t_eval


def by_kind(layers: list[Layer], gpu: GPU, batch: int) -> dict[str, dict]:
    out = {}
    for kind in KINDS:
        ls = [l for l in layers if l.kind == kind]
        if not ls:
            continue
        f_fwd = sum(l.fwd_flops for l in ls if not l.per_step)
        b_fwd = sum(l.fwd_bytes for l in ls if not l.per_step)
        f_tr = sum(l.fwd_flops + l.bwd_flops for l in ls)
        b_tr = sum(l.fwd_bytes + l.bwd_bytes for l in ls)
        t = m = 0.0
        for l in ls:
            a, b = layer_time(l, gpu, train=True)
            t, m = t + a, m + b
        out[kind] = {"fwd_flops": f_fwd / batch, "fwd_bytes": b_fwd / batch, "train_flops": f_tr / batch,
                     "train_bytes": b_tr / batch, "ai": f_tr / b_tr if b_tr else float("inf"),
                     "time": t / batch, "mem_share": m / t if t else 0.0, "layers": len(ls)}
    return out


def bound_label(mem_share: float) -> str:
    if mem_share >= 0.9:
        return "memory"
    if mem_share <= 0.1:
        return "compute"
    return f"{100 * mem_share:.0f} % memory"


def stage_intensity(layers: list[Layer], stage: str, kind: str) -> float:
    """Arithmetic intensity (forward FLOP/byte) of a kind of convolution within one ResNeXt stage."""
    ls = [l for l in layers if l.stage == stage and l.kind == kind]
    return sum(l.fwd_flops for l in ls) / sum(l.fwd_bytes for l in ls)


# ---------------------------------------------------------------------------------------------
# Report.


def scenario_cell(train_layers, eval_layers, g, batch: int, efficiency: float) -> str:
    """'fold / 6 folds (training clips/s)' with the convolutions at `efficiency` of peak."""
    fold = fold_time(train_layers, eval_layers, g, batch, compute_eff=efficiency, mem_eff=MEMORY_EFFICIENCY)
    tt = clip_time(train_layers, g, batch, train=True, compute_eff=efficiency, mem_eff=MEMORY_EFFICIENCY)
    return f"{fmt_time(fold)} / {fmt_time(FOLDS * fold)} ({1 / tt:.0f} clips/s)"


def fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cfn_sr", help="registry name (default cfn_sr)")
    p.add_argument("--scale", default="full", choices=("full", "tiny"))
    p.add_argument("--batch", type=int, default=16, help="clips per step (paper preset: 16)")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--peak-tflops", type=float, default=None, help="add a 'custom' GPU with this dense bf16 peak")
    p.add_argument("--peak-tbs", type=float, default=None, help="... and this memory bandwidth (TB/s)")
    args = p.parse_args(argv)

    print(f"# bench_roofline {datetime.date.today().isoformat()} | {machine()} | torch {torch.__version__} | "
          f"analytical, no GPU used (meta tensors)")
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"# model {args.model} scale={args.scale}, batch {args.batch}, video {args.frames}x{args.size}x{args.size}, "
          f"MFCC 13x212; activations/weights bf16 ({ACT_BYTES} B), Adam fp32 state ({ADAM_BYTES_PER_PARAM} B/param/step)")
    print(f"# peaks ({SOURCE}): " + "; ".join(f"{g.name} {g.flops / 1e12:.0f} TFLOP/s, {g.bw / 1e12:.2f} TB/s, "
                                            f"ridge {g.flops / g.bw:.0f} FLOP/B" for g in gpus(args)))
    print()

    train_layers = analyse(args.model, batch=args.batch, frames=args.frames, size=args.size, scale=args.scale)
    eval_layers = analyse(args.model, batch=args.batch, frames=args.frames, size=args.size, scale=args.scale, train=False)
    eval_layers = [l for l in eval_layers if not l.per_step]
    all_gpus = gpus(args)
    ref = all_gpus[0] if all_gpus[0].name == "custom" else next(g for g in all_gpus if g.name == "H100 SXM")
    kinds = {g.name: by_kind(train_layers, g, args.batch) for g in all_gpus}
    k_ref = kinds[ref.name]
    tot_f = sum(v["train_flops"] for v in k_ref.values())

    print("Per training clip (forward + backward; the optimiser step shared by the batch). Time bound = per-kernel")
    print("max(FLOPs/peak, bytes/bandwidth), summed over the kernels of the kind, per clip.")
    print()
    head = "| kind | kernels | fwd GFLOP | fwd+bwd GFLOP | share of FLOPs | fwd+bwd MB | FLOP/byte | " + \
        " | ".join(f"{g.name} us (bound)" for g in all_gpus) + " |"
    print(head)
    print("|" + "---|" * 2 + "---:|" * (5 + len(all_gpus)))
    for kind, v in k_ref.items():
        cells = " | ".join(f"{kinds[g.name][kind]['time'] * 1e6:.1f} ({bound_label(kinds[g.name][kind]['mem_share'])})"
                           for g in all_gpus)
        print(f"| {kind} | {v['layers']} | {v['fwd_flops'] / 1e9:.2f} | {v['train_flops'] / 1e9:.2f} | "
              f"{100 * v['train_flops'] / tot_f:.1f} % | {v['train_bytes'] / 1e6:.1f} | {v['ai']:.0f} | {cells} |")
    tot_b = sum(v["train_bytes"] for v in k_ref.values())
    cells = " | ".join(f"**{sum(v['time'] for v in kinds[g.name].values()) * 1e6:.0f}**" for g in all_gpus)
    print(f"| **total** | {sum(v['layers'] for v in k_ref.values())} | "
          f"{sum(v['fwd_flops'] for v in k_ref.values()) / 1e9:.2f} | {tot_f / 1e9:.2f} | 100 % | {tot_b / 1e6:.0f} | "
          f"{tot_f / tot_b:.0f} | {cells} |")
    print()

    print("Arithmetic intensity (forward FLOP/byte) by ResNeXt stage; the ridge point of "
          f"{ref.name} is {ref.flops / ref.bw:.0f} FLOP/byte:")
    print()
    print("| stage | 1x1x1 convs | grouped 3x3x3 convs | downsample conv |")
    print("|---|---:|---:|---:|")
    for s in ("layer1", "layer2", "layer3", "layer4"):
        if not any(l.stage == s for l in train_layers):
            continue
        cells = []
        for kind in ("1x1x1 convs", "grouped 3x3x3 convs", "downsample convs"):
            cells.append(f"{stage_intensity(train_layers, s, kind):.0f}" if any(l.stage == s and l.kind == kind for l in train_layers) else "-")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()

    print(f"Per fold, paper preset, fusion stage: {EPOCHS} epochs x ({TRAIN_CLIPS} training clips fwd+bwd+Adam, "
          f"{VAL_CLIPS} validation clips fwd), then {TEST_CLIPS} test clips once; batch {args.batch}.")
    print()
    print("| GPU | train us/clip | eval us/clip | clips/s the loader must feed | bound per fold | 6 folds | "
          "compute-only bound per fold (all FLOPs at peak) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for g in all_gpus:
        tt = clip_time(train_layers, g, args.batch, train=True)
        te = clip_time(eval_layers, g, args.batch, train=False)
        fold = fold_time(train_layers, eval_layers, g, args.batch)
        f_tr = sum(l.fwd_flops + l.bwd_flops for l in train_layers) / args.batch
        f_ev = sum(l.fwd_flops for l in eval_layers) / args.batch
        flops_fold = EPOCHS * (TRAIN_CLIPS * f_tr + VAL_CLIPS * f_ev) + TEST_CLIPS * f_ev
        print(f"| {g.name} | {tt * 1e6:.0f} | {te * 1e6:.0f} | {1 / tt:.0f} | {fmt_time(fold)} | {fmt_time(FOLDS * fold)} | "
              f"{fmt_time(flops_fold / g.flops)} ({flops_fold / 1e15:.1f} PFLOP) |")
    print()
    f_train = sum(l.fwd_flops + l.bwd_flops for l in train_layers) / args.batch
    f_fwd = sum(l.fwd_flops for l in train_layers if l.matmul) / args.batch
    print(f"Training FLOPs per clip: {f_train / 1e9:.1f} GFLOP = {f_train / f_fwd:.2f}x the forward's convolutions/matmuls "
          f"({f_fwd / 1e9:.1f} GFLOP), not 3x: the stem needs no data gradient (its input is the video).")
    print()

    print(f"Achieved-efficiency scenarios (assumptions): convolutions/matmuls at a fraction of the tensor-core peak, "
          f"memory-bound kernels and the PCIe copy at {100 * MEMORY_EFFICIENCY:.0f} % of their bandwidth. Per fold / 6 folds:")
    print()
    print("| GPU | " + " | ".join(f"convs at {100 * e:.0f} %" for e in EFFICIENCIES) + " |")
    print("|---|" + "---:|" * len(EFFICIENCIES))
    fused_train = [l for l in train_layers if l.kind not in FUSIBLE_KINDS]
    fused_eval = [l for l in eval_layers if l.kind not in FUSIBLE_KINDS]
    for layers, label in (((train_layers, eval_layers), "{}"),
                          ((fused_train, fused_eval), "{}, BatchNorm/ReLU/add/normalisation fused away (ideal)")):
        for g in all_gpus:
            print(f"| {label.format(g.name)} | " + " | ".join(scenario_cell(*layers, g, args.batch, e) for e in EFFICIENCIES) + " |")
    print()
    target = 30 * 60
    for g in all_gpus:
        # the conv efficiency at which 6 folds take exactly 30 minutes (bisection; memory kernels at 70 %)
        lo, hi = 1e-3, 1.0
        if FOLDS * fold_time(train_layers, eval_layers, g, args.batch, compute_eff=hi, mem_eff=MEMORY_EFFICIENCY) > target:
            print(f"{g.name}: 6 folds cannot finish in 30 min even with convolutions at peak "
                  f"(memory kernels at {100 * MEMORY_EFFICIENCY:.0f} %).")
            continue
        for _ in range(60):
            mid = (lo + hi) / 2
            if FOLDS * fold_time(train_layers, eval_layers, g, args.batch, compute_eff=mid, mem_eff=MEMORY_EFFICIENCY) > target:
                lo = mid
            else:
                hi = mid
        print(f"{g.name}: 6 folds in 30 min need the convolutions at >= {100 * hi:.1f} % of peak "
              f"(memory kernels at {100 * MEMORY_EFFICIENCY:.0f} %).")


if __name__ == "__main__":
    main()
