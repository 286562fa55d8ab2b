"""`avemotion predict FILE... [--run RUN]`: a thin layer over `avemotion.inference.Recognizer`, and
without --run over the voice model that ships with the package (`inference.pretrained`).

Exit status: 0 every file predicted, 3 some files failed (each reported on one line, the others
predicted), 2 usage or configuration error, an output that would replace an input or an existing
file without --overwrite included (one line printed by the entry point, nothing predicted).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from avemotion.errors import ConfigError
from avemotion.registries import detectors as detector_registry


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def predict(
    # readable=False: an unreadable file is one failed input (exit 3), not a usage error for the call
    videos: List[Path] = typer.Argument(..., help="Video or audio files (mp4, mov, avi, mkv, webm, flv, ...; wav, flac, mp3, ogg, opus, ... without --run).", show_default=False, readable=False),
    run: Optional[Path] = typer.Option(None, "--run", envvar="AVEMOTION_RUN", help="Run folder written by `avemotion train` (default: $AVEMOTION_RUN). Without it: the voice model that ships with avemotion (`avemotion weights`), on the file's audio track."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Without --run: which shipped voice model (`avemotion weights` lists them; default: the default one)."),
    model: Optional[str] = typer.Option(None, help="Model of the run to use when it holds several (default: its one fusion model, or its one model)."),
    fold: Optional[int] = typer.Option(None, help="Use this fold's checkpoint (default: the best-validated fold)."),
    ensemble: bool = typer.Option(False, "--ensemble", help="Average the probabilities of every fold's checkpoint."),
    window: Optional[float] = typer.Option(None, help="Window length in seconds for long videos.", show_default="3.0"),
    hop: Optional[float] = typer.Option(None, help="Seconds between window starts.", show_default="1.0"),
    smooth: Optional[int] = typer.Option(None, min=1, help="Moving average of probabilities over N windows (1: none).", show_default="1"),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the output here (default: stdout).", readable=False),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Timeline / probability plot (PNG); one per video, suffixed by its name when several (default: none).", readable=False),
    annotate: Optional[Path] = typer.Option(None, "--annotate", help="Annotated copy of the video (mp4); suffixed by the video name when several (default: none).", readable=False),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that already exist (never an input)."),
    landmarks: Optional[Path] = typer.Option(None, "--landmarks", help="OpenFace landmark CSV (one video) or a folder of <video stem>.csv; default: none, the face detector is used."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Without audio or face, predict from the remaining modality (the run's unimodal checkpoints)."),
    pad_short: Optional[bool] = typer.Option(None, "--pad-short/--no-pad-short", help="A clip shorter than the model's audio window: its audio zero-padded to the window, with a note in the output (--pad-short), or the clip refused as too_short (--no-pad-short).", show_default="pad-short"),
    detector: Optional[str] = typer.Option(None, "--detector", help=f"Face detector for videos without landmarks: {detector_registry.help_text(quote='', mark_default=False)}. Default: the crop rule the run was trained with."),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="Run the model through onnxruntime: a file written by `avemotion export` from this run (default: none, PyTorch)."),
    preprocess: List[str] = typer.Option([], "--preprocess", metavar="KEY=VALUE", help="Preprocessing setting you expect (repeatable); checked against the run, any difference is refused (default: none checked)."),
    device: Optional[str] = typer.Option(None, help="Torch device.", show_default="cpu"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
) -> None:
    """Recognise emotions in videos: one prediction per short clip, a timeline for long videos.
    Without --run: emotion from the voice of any audio or video file, with the shipped voice model."""
    from avemotion.inference import Recognizer

    if run is None:
        _check_run_options({"--model": model, "--fold": fold, "--ensemble": ensemble or None, "--window": window,
                            "--hop": hop, "--smooth": smooth, "--plot": plot, "--annotate": annotate,
                            "--landmarks": landmarks, "--allow-missing": allow_missing or None, "--pad-short": pad_short,
                            "--detector": detector, "--onnx": onnx, "--preprocess": preprocess or None, "--device": device})
        _predict_voice(videos, weights, fmt, output, overwrite, progress)
        return
    if weights is not None:
        raise ConfigError("--weights picks a shipped voice model for predict without --run; with --run the run's models predict")
    settings = _parse_settings(preprocess)
    landmark_map = _landmark_map(videos, landmarks)
    extras = _extra_paths(videos, plot, annotate)
    _check_outputs(videos, output, extras, [Path(p) for p in landmark_map.values()], run, overwrite)
    recognizer = Recognizer.from_run(
        run, model=model, fold=fold, ensemble=ensemble, device=device or "cpu", allow_missing=allow_missing,
        pad_short=pad_short is not False, preprocess=settings, window=3.0 if window is None else window, hop=1.0 if hop is None else hop,
        smooth=smooth or 1, detector=detector, onnx=onnx,
    )
    results = []
    for result, paths in zip(recognizer.predict_many(videos, progress=progress and sys.stderr.isatty(), landmarks=landmark_map), extras):
        _report(result, allow_missing)
        _write_extras(result, paths)
        results.append(result)
    _write_output(results, fmt, output, recognizer.describe())
    if any(_failed(r) for r in results):
        raise typer.Exit(3)  # as `prepare`: finished, some files failed (docs/inference.md)


def _check_run_options(given: dict) -> None:
    """Options of a run's models given without --run: one line naming them (exit 2)."""
    names = [option for option, value in given.items() if value is not None]
    if names:
        raise ConfigError(f"{', '.join(names)} {'go' if len(names) > 1 else 'goes'} with --run RUN (a run folder written by "
                          f"`avemotion train`); without --run predict uses the shipped voice model (options: --weights, "
                          f"--format, --output, --overwrite)")


def _predict_voice(files: list[Path], name: str | None, fmt: OutputFormat, output: Path | None, overwrite: bool,
                   progress: bool) -> None:
    """The shipped voice model on each file's audio track: the same outputs and exit codes as with a run."""
    from avemotion.inference.pretrained import get_weights, headline

    entry = get_weights(name)  # one line when none ship or the name is unknown
    _check_outputs(files, output, [], [entry.path, entry.meta_path], None, overwrite)
    recognizer = entry.load()  # verified: a damaged file is one line naming it
    spoke = headline(recognizer)
    if fmt is not OutputFormat.table:
        typer.echo(spoke, err=True)  # stdout is the JSON/CSV document
    results = []
    for result in recognizer.predict_many(files, progress=progress and sys.stderr.isatty()):
        _report(result, allow_missing=True)  # no modality fallback to hint at: the voice is the only one
        results.append(result)
    _write_output(results, fmt, output, recognizer.describe(), header=spoke)
    if any(_failed(r) for r in results):
        raise typer.Exit(3)


def _failed(result) -> bool:
    from avemotion.inference import FileError

    return isinstance(result, FileError)


def _parse_settings(items: list[str]) -> dict:
    """KEY=VALUE strings to typed preprocessing settings (types from PreprocessConfig's defaults)."""
    import dataclasses

    from avemotion.config import PreprocessConfig

    defaults = {f.name: f.default for f in dataclasses.fields(PreprocessConfig)}
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in defaults:
            raise ConfigError(f"--preprocess {item!r}: expected KEY=VALUE with KEY one of {', '.join(defaults)}")
        try:
            settings[key] = type(defaults[key])(value)
        except ValueError:
            raise ConfigError(f"--preprocess {item!r}: {value!r} is not a {type(defaults[key]).__name__}") from None
    return settings


def _landmark_map(videos: list[Path], landmarks: Path | None) -> dict:
    if landmarks is None:
        return {}
    if landmarks.is_dir():
        # a video without its CSV in the folder uses the face detector, as in `prepare`
        found = {str(v): landmarks / f"{v.stem}.csv" for v in videos}
        return {v: csv for v, csv in found.items() if csv.exists()}
    if not landmarks.exists():
        raise ConfigError(f"{landmarks}: no such landmark file or folder")
    if len(videos) > 1:
        raise ConfigError("--landmarks CSV goes with one video; for several, give a folder of <video stem>.csv")
    return {str(videos[0]): landmarks}


def _report(result, allow_missing: bool) -> None:
    """One line per failed file on stderr, and one per modality fallback."""
    if _failed(result):
        from avemotion.inference.recognizer import fallback_possible

        fallback = fallback_possible(result.reason, result.detail)
        hint = " (--allow-missing predicts from the other modality)" if fallback and not allow_missing else ""
        typer.echo(f"{result.message}{hint}", err=True)
        return
    for note in result.notes:
        typer.echo(f"{result.file}: {note}", err=True)


def _extra_paths(videos: list[Path], plot: Path | None, annotate: Path | None) -> list[dict[str, Path]]:
    """Per input, {"--plot": png, "--annotate": mp4} as asked; with several inputs each template
    takes the input's distinct label (outputs.file_labels): `talk.png` -> `talk_<label>.png`."""
    from avemotion.inference.outputs import file_labels, per_file

    templates = {option: path for option, path in (("--plot", plot), ("--annotate", annotate)) if path is not None}
    if len(videos) == 1:
        return [templates]
    return [{option: per_file(t, label) for option, t in templates.items()} for label in file_labels(videos)]


def _check_outputs(videos, output, extras, landmark_files, run, overwrite) -> None:
    """Before any work: no output over an input, none over an existing file without --overwrite."""
    from avemotion.utils.targets import check_targets

    targets = [("--output", output)] if output is not None else []
    targets += [(option, path) for paths in extras for option, path in paths.items()]
    check_targets(targets, [*videos, *landmark_files], overwrite, [run] if run is not None else [])


def _write_extras(result, paths: dict[str, Path]) -> None:
    if _failed(result):
        return
    if "--plot" in paths:
        from avemotion.inference.plot import plot_result

        _writing(paths["--plot"], plot_result, result, paths["--plot"])
    if "--annotate" in paths:
        from avemotion.inference.annotate import annotate_video

        _writing(paths["--annotate"], annotate_video, result.file, result, paths["--annotate"])


def _writing(path: Path, write, *args) -> None:
    """Run an (atomic) writer; an OS error becomes one line (exit 2), not a traceback."""
    try:
        write(*args)
    except OSError as err:
        raise ConfigError(f"{path}: cannot write ({err.strerror or err})") from None


def _write_output(results: list, fmt: OutputFormat, output: Path | None, meta: dict, header: str | None = None) -> None:
    from avemotion.inference import outputs
    from avemotion.utils.io import write_text

    if fmt is OutputFormat.table:
        text = _table_text(results, outputs, width=None if output is None else 120)
        text = text if header is None else f"{header}\n{text}"
    elif fmt is OutputFormat.json:
        text = outputs.to_json(results, meta)
    else:
        text = outputs.to_csv(results)
    if output is None:
        sys.stdout.write(text)
    else:
        _writing(output, write_text, output, text)


def _table_text(results, outputs, width) -> str:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    terminal = width is None and sys.stdout.isatty()
    console = Console(file=buffer, width=width or 120, force_terminal=terminal)
    outputs.render_table(results, console)
    return buffer.getvalue()
