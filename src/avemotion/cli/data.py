"""CLI commands: synth (synthetic RAVDESS-like corpus) and prepare (preprocess a corpus into the cache)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from avemotion.errors import ConfigError
from avemotion.registries import detectors as detector_registry

# `prepare` exit codes besides 0 (all done) and 2 (usage, settings or an unusable folder: one line):
# 3 = finished, but some files failed (listed in the summary and report.json); 130 = Ctrl-C.
EXIT_FILES_FAILED = 3
EXIT_INTERRUPTED = 130


# Stated bounds on the options that size work and memory, checked before any work starts;
# --allow-large lifts them for a user who really wants more.
MAX_SYNTH_SIZE = (1920, 1080)
MAX_SYNTH_UTTERANCES = 100
MAX_PREPARE_FRAMES = 300
MAX_PREPARE_SIZE = 1024


def _parse_size(size: str, allow_large: bool = False) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 160x120, got {size!r}") from None
    if w < 64 or h < 48 or w % 2 or h % 2:
        raise ConfigError(f"--size {size}: width/height must be even and at least 64x48")
    if not allow_large and (w > MAX_SYNTH_SIZE[0] or h > MAX_SYNTH_SIZE[1]):
        raise ConfigError(f"--size {size}: at most {MAX_SYNTH_SIZE[0]}x{MAX_SYNTH_SIZE[1]} "
                          "(memory and time grow with the frame area); pass --allow-large to go beyond")
    return w, h


def _check_bound(option: str, value: int, limit: int, allow_large: bool) -> None:
    if value > limit and not allow_large:
        raise ConfigError(f"{option} {value}: at most {limit}; pass --allow-large to go beyond")


def check_empty_out(out: Path, overwrite: bool) -> None:
    """synth writes RAVDESS (or IEMOCAP) file names: into a non-empty folder, only when asked."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a folder")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty (synth would replace files of corpus names there); "
                          "choose an empty or new folder, or pass --overwrite")


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth_cmd(
        out: Path = typer.Argument(..., help="Folder to write Actor_XX/*.mp4 and landmark CSVs into."),
        actors: int = typer.Option(8, min=1, max=24, help="Number of actors (odd ids male, even female; RAVDESS has 24)."),
        seed: int = typer.Option(0, help="Everything is deterministic from this seed."),
        size: str = typer.Option("320x240", help="Video resolution WxH."),
        statements: int = typer.Option(2, min=1, max=2, help="Statements per emotion and intensity."),
        repetitions: int = typer.Option(2, min=1, max=2, help="Repetitions per statement."),
        landmarks: str = typer.Option("flat", help="'flat': OUT/landmarks/*.csv; 'actor': beside the videos."),
        workers: int = typer.Option(1, min=1, help="Processes."),
        iemocap: bool = typer.Option(False, "--iemocap", help="An IEMOCAP-layout stand-in instead: OUT/IEMOCAP_full_release/Session1..N (dialogue videos with both actors, utterance wavs, EmoEvaluation files)."),
        sessions: int = typer.Option(5, min=1, max=5, help="--iemocap: sessions (2 actors each)."),
        utterances: int = typer.Option(8, min=1, help=f"--iemocap: utterances per dialogue (at most {MAX_SYNTH_UTTERANCES} unless --allow-large)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty OUT, replacing files of the same names (refused by default)."),
        allow_large: bool = typer.Option(False, "--allow-large", help=f"Lift the bounds on --size ({MAX_SYNTH_SIZE[0]}x{MAX_SYNTH_SIZE[1]}) and --utterances ({MAX_SYNTH_UTTERANCES})."),
    ) -> None:
        """Write a small synthetic corpus in RAVDESS layout (drawn faces + voice-like audio per emotion)."""
        from avemotion.data.synth import SynthOptions, clip_names, synth_corpus
        from avemotion.utils.progress import Progress

        if iemocap:
            from avemotion.data.synth import IemocapSynthOptions, synth_iemocap

            _check_bound("--utterances", utterances, MAX_SYNTH_UTTERANCES, allow_large)
            check_empty_out(out, overwrite)

            opts = IemocapSynthOptions(sessions=sessions, utterances=utterances, seed=seed)
            base = synth_iemocap(out, opts)
            typer.echo(f"wrote {sessions} sessions of {utterances} utterances (IEMOCAP layout) to {base}")
            return

        if landmarks not in ("flat", "actor"):
            raise ConfigError(f"--landmarks must be 'flat' or 'actor', got {landmarks!r}")
        w, h = _parse_size(size, allow_large)
        check_empty_out(out, overwrite)
        opts = SynthOptions(actors=actors, seed=seed, width=w, height=h, statements=statements,
                            repetitions=repetitions, landmarks=landmarks)
        with Progress("synthesising", len(clip_names(opts))) as bar:
            paths = synth_corpus(out, opts, workers=workers, progress=bar.advance)
        typer.echo(f"wrote {len(paths)} clips of {actors} actors to {out}")

    @app.command("prepare")
    def prepare_cmd(
        data_dir: Optional[Path] = typer.Argument(None, help="Corpus folder (RAVDESS Actor_XX/, CREMA-D clips, IEMOCAP_full_release/)."),
        manifest: Optional[Path] = typer.Option(None, "--manifest", help="Any labelled corpus: a CSV with path,label,speaker[,start,end,gender,landmarks,id] per clip (docs/data.md). Default: none, the corpus folder is read by its layout."),
        labels: Optional[str] = typer.Option(None, "--labels", help="Manifest: the class names in label order, e.g. neutral,happy,sad (default: the sorted labels)."),
        iemocap_classes: Optional[str] = typer.Option(None, "--iemocap-classes", help="IEMOCAP label mapping: '4' (default: neu, hap+exc, sad, ang), '4-noexc', '6' or 'all'."),
        iemocap_left: Optional[str] = typer.Option(None, "--iemocap-left", help="IEMOCAP: which actor sits on the left of the dialogue video, 'female' or 'male' (default female, docs/data.md)."),
        out: Path = typer.Option(..., "--out", help="Cache root; clips go to OUT/<settings hash>/."),
        frames: int = typer.Option(30, min=1, help="Frames per clip, evenly over the clip."),
        size: int = typer.Option(224, min=16, help="Face crop side in pixels."),
        crop: Optional[str] = typer.Option(None, help="'fixed' (margin, square, full frame; default) or 'legacy' (published squash/stretch)."),
        stft_pad: Optional[str] = typer.Option(None, "--stft-pad", help="MFCC STFT padding: 'constant' (librosa >= 0.10; default) or 'reflect' (librosa 0.8, published)."),
        legacy: bool = typer.Option(False, "--legacy", help="The published preprocessing: --crop legacy --stft-pad reflect (explicit options win)."),
        detector: str = typer.Option(detector_registry.DEFAULT, "--detector", help=f"Face detector where no landmark CSV exists: {detector_registry.help_text()}."),
        pad_short: bool = typer.Option(False, "--pad-short", help="Paper window: zero-pad the audio of clips shorter than 2.95 s (still refuses < 1 s)."),
        audio_window: Optional[str] = typer.Option(None, "--audio-window", help="Where the 2.45 s audio window lies: 'paper' (0.5 s in; the default for RAVDESS) or 'speech' (centred on the detected speech, short utterances zero-padded; the default for any other corpus)."),
        workers: int = typer.Option(0, min=0, help="Processes (0 = all cores)."),
        report: Optional[Path] = typer.Option(None, help="Also write the JSON report here (default: only report.json in the cache folder)."),
        dataset: Optional[str] = typer.Option(None, help="Force a dataset adapter (ravdess, crema-d, iemocap, manifest); default: recognised from the folder's layout."),
        allow_large: bool = typer.Option(False, "--allow-large", help=f"Lift the bounds on --frames ({MAX_PREPARE_FRAMES}) and --size ({MAX_PREPARE_SIZE})."),
    ) -> None:
        """Preprocess every clip (faces, 30 frames, MFCC) into the cache; bad files are reported, not fatal
        (exit 3 when some failed, after the others)."""
        from avemotion.config import LEGACY_PREPROCESS, PreprocessConfig
        from avemotion.data.labels import parse_labels

        if (data_dir is None) == (manifest is None):
            raise ConfigError("give a corpus folder or --manifest CSV (one of them)")
        _check_bound("--frames", frames, MAX_PREPARE_FRAMES, allow_large)
        _check_bound("--size", size, MAX_PREPARE_SIZE, allow_large)
        options: dict = {}
        if labels is not None:
            if manifest is None:
                raise ConfigError("--labels fixes a manifest's class names (with --manifest)")
            options["labels"] = parse_labels(labels)
        for key, value in (("classes", iemocap_classes), ("left", iemocap_left)):
            if value is not None:
                if manifest is not None or dataset not in (None, "iemocap"):
                    raise ConfigError(f"--iemocap-{'classes' if key == 'classes' else 'left'} is an IEMOCAP option "
                                      "(a corpus folder holding IEMOCAP_full_release)")
                dataset = "iemocap"
                options[key] = value
        if manifest is not None:
            data_dir, dataset = manifest, "manifest"

        base = LEGACY_PREPROCESS if legacy else {}
        given = {k: v for k, v in (("crop", crop), ("stft_pad", stft_pad)) if v is not None}
        window = audio_window or corpus_audio_window(data_dir, dataset)
        try:
            cfg = PreprocessConfig(num_frames=frames, frame_size=size, short_clip="pad" if pad_short else "error",
                                   detector=detector, audio_window=window, **{**base, **given})
        except ValueError as err:
            raise ConfigError(str(err)) from None
        from avemotion.data.detectors import check

        check(cfg.detector)  # a missing package is one line before any clip, not one per clip
        result = _prepare(data_dir, out, cfg, workers=workers or os.cpu_count(), report_path=report,
                          dataset=dataset, progress=True, options=options)
        _print_summary(result)
        if result.failed:
            raise typer.Exit(EXIT_FILES_FAILED)


def corpus_audio_window(data_dir: Path, dataset: str | None) -> str:
    """The corpus's default audio window (config.default_audio_window) of the adapter that will read it."""
    from avemotion.config import default_audio_window
    from avemotion.data.datasets import detect_dataset
    from avemotion.errors import InputError

    try:
        return default_audio_window(dataset or detect_dataset(data_dir))
    except InputError:
        return "paper"  # no known layout: prepare itself says what is wrong with the folder


def _prepare(data_dir: Path, out: Path, cfg, **options):
    """prepare(), with Ctrl-C and permission problems as one line each (exit 130 / 2)."""
    from avemotion.data.prepare import PrepareInterrupted, prepare

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder (a cache is a folder)")
    try:
        return prepare(data_dir, out, cfg, **options)
    except PrepareInterrupted as stop:
        r = stop.report
        typer.echo(f"interrupted: {r.cached} complete clips are kept in {r.cache} ({r.prepared} prepared by this "
                   "run); run the same command again to resume", err=True)
    except KeyboardInterrupt:
        typer.echo("interrupted before any clip was prepared; run the same command again to start", err=True)
    except PermissionError as err:
        raise ConfigError(f"{err.filename or data_dir}: permission denied ({err.strerror})") from None
    raise typer.Exit(EXIT_INTERRUPTED)


def _print_summary(result) -> None:
    """A headline, then one line per failed file (`name: reason: detail`) and per warning; file names
    and details are printed as they are (no markup, no wrapping), so every line stands alone."""
    from rich.console import Console

    console = Console()

    def line(text: str, style: str | None = None) -> None:
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    line(f"{result.dataset} ({'+'.join(result.modalities)}): {result.found} files, {result.prepared} prepared, "
         f"{result.cached_before} already cached, {len(result.failed)} failed ({result.seconds:.1f} s) -> {result.cache}",
         "bold")
    if result.labels:
        line(f"classes: {len(result.labels)} ({', '.join(result.labels)})")
    if result.audio_window:
        line(f"audio window: {result.audio_window}")
    if "video" in result.modalities:
        line("faces: " + ", ".join(f"{n} from {source}" for source, n in sorted(result.face_sources.items())))
    for f in result.failed:
        line(f"failed: {Path(f['file']).name}: {f['reason']}: {f['detail']}", "red")
    for warning in result.warnings:
        line(f"warning: {warning}", "yellow")
    line(f"report: {Path(result.cache) / 'report.json'}")
