"""CLI commands: train, evaluate, reproduce (protocol of SPEC 3, recipe of SPEC 5)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from avemotion.errors import ConfigError

SELECTION_HELP = "val: selection on inner validation actors (default). test-legacy: best test-fold accuracy over epochs, as published (OPTIMISTIC). last: final epoch."


def _model_config(items: list[str] | None) -> dict | None:
    if not items:
        return None
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _print_report(report: dict) -> None:
    from rich.console import Console

    from avemotion.evaluation.report import summary_table

    console = Console(file=sys.stdout)
    console.print(summary_table(report))
    primary = report["models"].get(report["primary"]) if report["primary"] else None
    if primary:
        for k, row in primary["folds"].items():
            console.print(
                f"  fold {k}: test actors {row['test_actors']}, epoch {row['epoch']}: "
                f"accuracy {row['accuracy'] * 100:.1f}%, UAR {row['uar'] * 100:.1f}%, macro-F1 {row['macro_f1'] * 100:.1f}%"
            )
    if report["optimistic"]:
        console.print("[bold red]OPTIMISTIC:[/] checkpoints were selected on the test fold (legacy selection)")
    console.print(f"report: {Path(report['run_dir']) / 'report.md'}")


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        model: str = typer.Option(..., "--model", "-m", help="registered model name (see `avemotion models`)"),
        data: Path = typer.Option(..., "--data", help="prepared cache folder (avemotion prepare)"),
        out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/<model>)"),
        preset: str = typer.Option("paper", "--preset", help="paper (SPEC 5) or small (tiny models, CPU minutes)"),
        folds: str = typer.Option("all", "--folds", help="outer folds to run: all or e.g. 0,1"),
        selection: Optional[str] = typer.Option(None, "--selection", help=SELECTION_HELP),
        recipe: Optional[str] = typer.Option(None, "--recipe", help="two-stage (unimodal then fusion, default) or end-to-end"),
        epochs: Optional[int] = typer.Option(None, "--epochs"),
        unimodal_epochs: Optional[int] = typer.Option(None, "--unimodal-epochs"),
        batch_size: Optional[int] = typer.Option(None, "--batch-size"),
        lr: Optional[float] = typer.Option(None, "--lr"),
        seed: Optional[int] = typer.Option(None, "--seed"),
        n_folds: Optional[int] = typer.Option(None, "--n-folds", help="outer folds the actors are split into"),
        n_val: Optional[int] = typer.Option(None, "--n-val", help="inner validation actors per fold"),
        augment: Optional[str] = typer.Option(None, "--augment", help="clip (default), frame (legacy) or none"),
        workers: Optional[int] = typer.Option(None, "--workers", help="DataLoader workers"),
        precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16-mixed on GPU, 32 on CPU), 32, bf16-mixed"),
        channels_last: Optional[str] = typer.Option(None, "--channels-last", help="channels_last_3d memory format: auto (on GPU), on, off"),
        crop_on_device: Optional[str] = typer.Option(None, "--crop-on-device", help="clip crop/flip on the training device: auto (on GPU), on, off"),
        preload: Optional[str] = typer.Option(None, "--preload", help="fold's clips read once onto the training device: auto (on GPU when they fit in 40% of its free memory), on, off"),
        compile_: Optional[str] = typer.Option(None, "--compile", help="nn.Module.compile() in place: off (default), on, auto (on GPU)"),
        deterministic: bool = typer.Option(False, "--deterministic", help="torch deterministic algorithms, warn-only"),
        unimodal_dir: Optional[Path] = typer.Option(None, "--unimodal-dir", help="shared folder of per-fold unimodal networks"),
        set_: Optional[list[str]] = typer.Option(None, "--set", help="model factory argument key=value (repeatable)"),
        kinetics: Optional[Path] = typer.Option(None, "--kinetics", help="Kinetics 3D-ResNets checkpoint for the video encoder"),
        progress: bool = typer.Option(False, "--progress/--no-progress", help="Lightning progress bars"),
    ) -> None:
        """Train a model with cross-validation over unseen actors, then print and write the report."""
        from avemotion.training import train

        report = train(
            model, data, out or Path("runs") / model, preset=preset, folds=folds, unimodal_dir=unimodal_dir,
            progress=progress, log=typer.echo, selection=selection, recipe=recipe, epochs=epochs,
            unimodal_epochs=unimodal_epochs, batch_size=batch_size, lr=lr, seed=seed, n_folds=n_folds,
            n_val=n_val, augment=augment, num_workers=workers, precision=precision, channels_last=channels_last,
            crop_on_device=crop_on_device, preload=preload, compile=compile_,
            deterministic=deterministic or None, model_config=_model_config(set_),
            kinetics=str(kinetics.resolve()) if kinetics else None,
        )
        _print_report(report)

    @app.command("evaluate")
    def evaluate_cmd(
        run_dir: Path = typer.Argument(..., help="a finished run folder"),
        data: Optional[Path] = typer.Option(None, "--data", help="cache (default: the one recorded in run.json)"),
        batch_size: int = typer.Option(16, "--batch-size"),
    ) -> None:
        """Re-score a run's selected checkpoints on its test manifests and rebuild the report."""
        from avemotion.evaluation.rescore import evaluate_run

        _print_report(evaluate_run(run_dir, data, batch_size=batch_size, log=typer.echo))

    @app.command("reproduce")
    def reproduce_cmd(
        models: str = typer.Option("all", "--models", help="all or a comma list of registered models"),
        data: Path = typer.Option(..., "--data"),
        out: Path = typer.Option(Path("runs/reproduce"), "--out"),
        preset: str = typer.Option("paper", "--preset"),
        folds: str = typer.Option("all", "--folds"),
        selection: Optional[str] = typer.Option(None, "--selection", help=SELECTION_HELP),
        epochs: Optional[int] = typer.Option(None, "--epochs"),
        seed: Optional[int] = typer.Option(None, "--seed"),
        workers: Optional[int] = typer.Option(None, "--workers"),
        progress: bool = typer.Option(False, "--progress/--no-progress"),
    ) -> None:
        """Every model on identical folds (shared unimodal stage); paper tables 1-2 and paired tests."""
        from avemotion.models import list_models
        from avemotion.training import train_many

        names = list_models() if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
        report = train_many(
            names, data, out, preset=preset, folds=folds, progress=progress, log=typer.echo,
            primary="cfn_sr" if "cfn_sr" in names else names[-1], selection=selection, epochs=epochs,
            seed=seed, num_workers=workers,
        )
        _print_report(report)
