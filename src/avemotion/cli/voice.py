"""`avemotion voice prepare|train|export`: voice models for real recordings (data/voice.py)."""

from __future__ import annotations

from pathlib import Path

import typer

voice_app = typer.Typer(help="Voice models for real recordings in any language: store corpora, train, export weights.",
                        no_args_is_help=True)

# Bounds on options that size work (a typo must not start hours of work or fill the memory).
MAX_EPOCHS = 1000
MAX_BATCH = 1024
MAX_WORKERS = 64


def register(app: typer.Typer) -> None:
    app.add_typer(voice_app, name="voice")


def _bounded(name: str, value: int, low: int, high: int) -> int:
    from avemotion.errors import ConfigError

    if not low <= value <= high:
        raise ConfigError(f"--{name} must be in {low}..{high}, got {value}")
    return value


@voice_app.command("prepare")
def prepare(
    data: Path = typer.Argument(..., help="corpus folder (RAVDESS, EmoDB, nEMO, CREMA-D, IEMOCAP layouts) or a manifest CSV"),
    out: Path = typer.Option(..., "--out", help="folder of the voice store (resumes what is there)"),
    workers: int = typer.Option(2, help="decoding processes"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
) -> None:
    """Decode a corpus to 16 kHz speech (silence trimmed, level set) for voice training."""
    from avemotion.data.voice_store import build_store
    from avemotion.utils.io import read_json

    corpus = build_store(data, out, workers=_bounded("workers", workers, 1, MAX_WORKERS), progress=not no_progress)
    refused = read_json(Path(out) / "report.json")["refused"]
    typer.echo(f"{out}: {len(corpus)} utterances of {len(set(corpus.speakers))} speakers ({corpus.dataset}; "
               f"classes {', '.join(corpus.labels)}); {len(refused)} refused" + (" (see report.json)" if refused else ""))


@voice_app.command("train")
def train(
    data: list[Path] = typer.Option(..., "--data", help="voice stores (repeat for several corpora)"),
    out: Path = typer.Option(..., "--out", help="run folder (the same command resumes it)"),
    protocol: str = typer.Option("speaker-folds", help="speaker-folds | leave-one-corpus-out | all"),
    seeds: str = typer.Option("0", help="comma-separated seeds, e.g. 0,1,2"),
    folds: str = typer.Option(None, help="only these splits (indices), e.g. 0,1 (default: all)"),
    n_folds: int = typer.Option(None, help="folds per corpus (default: the corpus's own, e.g. RAVDESS 6, EmoDB 5)"),
    n_val: int = typer.Option(None, help="validation speakers per corpus and fold (default: the corpus's own, else 4, fewer for small corpora)"),
    model: str = typer.Option("voice_cnn", help="a registered voice model"),
    epochs: int = typer.Option(30, help=f"training epochs (1..{MAX_EPOCHS})"),
    batch_size: int = typer.Option(32, help=f"utterances per training batch (2..{MAX_BATCH})"),
    lr: float = typer.Option(2e-3, help="learning rate"),
    weight_decay: float = typer.Option(1e-2, "--weight-decay", help="AdamW's decoupled weight decay"),
    weight_decay_grid: str = typer.Option(None, "--weight-decay-grid", help="functionals models: comma-separated decays, each trained from the same start; the (decay, epoch) with the best validation UAR is kept (default: --weight-decay alone)"),
    augment: float = typer.Option(1.0, help="augmentation strength (0: none)"),
    norm: str = typer.Option(None, help="voice_cnn's per-utterance band normalisation: none | mean | meanvar (default mean)"),
    threads: int = typer.Option(0, help="torch threads (0: torch's default)"),
) -> None:
    """Train a voice model (selection on validation speakers only) and write its cross-corpus report."""
    import math

    import torch

    from avemotion.errors import ConfigError
    from avemotion.training.voice import VoiceTrainConfig
    from avemotion.training.voice_run import run_voice

    if not (math.isfinite(lr) and lr > 0) or not (math.isfinite(augment) and augment >= 0):
        raise ConfigError(f"--lr must be a positive number and --augment >= 0 (got {lr}, {augment})")
    decays = _decays(weight_decay_grid) if weight_decay_grid else ()
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ConfigError(f"--weight-decay must be a finite number >= 0 (got {weight_decay})")
    if threads:
        torch.set_num_threads(_bounded("threads", threads, 1, MAX_WORKERS))
    cfg = VoiceTrainConfig(model=model, epochs=_bounded("epochs", epochs, 1, MAX_EPOCHS),
                           batch_size=_bounded("batch-size", batch_size, 2, MAX_BATCH), lr=lr, augment=augment, norm=norm,
                           weight_decay=weight_decay, weight_decay_grid=decays)
    report = run_voice(data, out, cfg, protocol=protocol, seeds=_ints("seeds", seeds), n_folds=n_folds, n_val=n_val,
                       folds=_ints("folds", folds) if folds else None)
    _summary(report, "stages")
    typer.echo(f"report: {Path(out) / 'report.md'}")


def _decays(text: str) -> tuple[float, ...]:
    from avemotion.errors import ConfigError

    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--weight-decay-grid must be comma-separated numbers, got {text!r}") from None
    if not values or len(values) > 20 or any(not (v >= 0 and v < float("inf")) for v in values):
        raise ConfigError(f"--weight-decay-grid takes 1 to 20 finite numbers >= 0, got {text!r}")
    return values


def _summary(report: dict, what: str) -> None:
    """One line per scored corpus: UAR and accuracy, mean +- std, and any collapse."""
    for name, entry in report["corpora"].items():
        s = entry["summary"]
        collapses = sorted({st["collapse"] for st in entry["stages"] if st["collapse"]})
        typer.echo(f"{name}: UAR {100 * s['uar']['mean']:.1f} +- {100 * s['uar']['std']:.1f} %, accuracy "
                   f"{100 * s['accuracy']['mean']:.1f} +- {100 * s['accuracy']['std']:.1f} % over {s['uar']['n']} {what}"
                   + (f"; COLLAPSE onto {', '.join(collapses)}" if collapses else ""))


@voice_app.command("evaluate")
def evaluate(
    run: Path = typer.Argument(..., help="a voice run folder"),
    data: Path = typer.Option(..., "--data", help="a voice store of the corpus to score the run's models on"),
) -> None:
    """Score a voice run's models on another corpus: the cross-corpus report (RUN/cross/...)."""
    from avemotion.training.voice_run import evaluate_voice

    _summary(evaluate_voice(run, data), "models")


@voice_app.command("export")
def export(
    run: Path = typer.Argument(..., help="a voice run folder"),
    out: Path = typer.Option(..., "--out", help="weights stem: writes STEM.safetensors and STEM.json"),
    split: str = typer.Option(None, help="which split's model (default: the first)"),
    seed: int = typer.Option(None, help="which seed's model (default: the first)"),
    name: str = typer.Option(None, help="the name the weights speak under (default: none)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace STEM.safetensors and STEM.json if they exist"),
) -> None:
    """Write one model of a voice run as a weights file (checksummed, with its preprocessing contract)."""
    from avemotion.models.voice_weights import voice_paths
    from avemotion.training.voice_run import export_voice

    path = export_voice(run, out, split=split, seed=seed, card={"name": name} if name else None, overwrite=overwrite)
    typer.echo(f"wrote {path} and {voice_paths(out)[1]}")


def _ints(name: str, text: str) -> list[int]:
    from avemotion.errors import ConfigError

    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{name} must be comma-separated integers, got {text!r}") from None
    if any(v < 0 for v in values) or len(set(values)) != len(values):
        raise ConfigError(f"--{name} must be distinct integers >= 0, got {text!r}")
    return values
