"""`avemotion` entry point. Errors the user can fix are printed as one line (exit 2), no traceback."""

from __future__ import annotations

import importlib
import sys

import typer


app = typer.Typer(
    name="avemotion",
    help="Audio-video emotion recognition: CFN-SR, its fusion baselines and TACFN, on RAVDESS and your own videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

@app.callback()
def main() -> None:
    """Audio-video emotion recognition: CFN-SR, its fusion baselines and TACFN."""
    from avemotion.utils.logs import setup_cli_logging

    setup_cli_logging()  # the library's progress lines on stdout, from one process under DDP


# One module per group of commands; each exposes register(app). Heavy imports live inside commands
# so that `avemotion --help` stays fast.
COMMAND_MODULES = ("data", "download", "models", "train", "predict", "export", "weights", "voice", "serve", "grid")

for _name in COMMAND_MODULES:
    importlib.import_module(f"avemotion.cli.{_name}").register(app)


# What Ctrl-C leaves behind, per command (the default: work is written atomically and resumes).
INTERRUPTED = {
    "predict": "interrupted: no output was written (results are written once every file is done)",
    "train": "interrupted: finished stages and the running stage's last epoch are kept; run the same command again to resume",
    "export": "interrupted: nothing was written (the export is renamed into place only once checked)",
}
INTERRUPTED_DEFAULT = "interrupted: finished work is kept; run the same command again to resume"


def run() -> None:
    """The entry point: every expected failure is one line and an exit code, decided here (see
    cli/failures.py); a traceback only for a bug, and only with --debug (anywhere on the line)."""
    from avemotion.cli.failures import one_line

    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv = [a for a in sys.argv if a != "--debug"]
    try:
        app()
    except SystemExit as stop:
        if _interrupted(stop):
            _interrupt_line()
            sys.exit(130)
        raise
    except KeyboardInterrupt:
        _interrupt_line()
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the one place that turns errors into lines
        if debug:
            raise
        line, code = one_line(err)
        typer.echo(line, err=True)
        sys.exit(code)


def _interrupted(stop: SystemExit) -> bool:
    """Whether typer turned a Ctrl-C into this exit (it raises Exit(130) from the KeyboardInterrupt)."""
    seen = stop.__context__
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _interrupt_line() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    typer.echo(INTERRUPTED.get(command, INTERRUPTED_DEFAULT), err=True)


if __name__ == "__main__":
    run()
