"""`avemotion export RUN --out model.onnx`: one fold's model of a run as ONNX (inference.export)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        run: Path = typer.Argument(..., help="Run folder written by `avemotion train`."),
        out: Path = typer.Option(..., "--out", help="ONNX file to write (its description goes to OUT.json)."),
        model: Optional[str] = typer.Option(None, help="Model of the run when it holds several (default: its one fusion model, or its one model)."),
        fold: Optional[int] = typer.Option(None, help="Fold to export (default: the best-validated one, as predict)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    ) -> None:
        """Export a run's model to ONNX, check onnxruntime against PyTorch, print both forward times."""
        from avemotion.inference.export import TOLERANCE, export_run

        meta = export_run(run, out, model=model, fold=fold, overwrite=overwrite)
        typer.echo(f"wrote {out} ({meta['model']}, fold {meta['fold']}, inputs {'+'.join(meta['inputs'])}); "
                   f"max |logit difference| vs PyTorch {meta['max_abs_diff']:.1e} (tolerance {TOLERANCE:g}); "
                   f"forward of one clip: PyTorch {meta['torch_s'] * 1000:.1f} ms, onnxruntime "
                   f"{meta['onnxruntime_s'] * 1000:.1f} ms ({meta['threads']} threads)")
