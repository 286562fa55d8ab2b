"""`avemotion` entry point. Errors the user can fix are printed as one line (exit 2), no traceback."""

from __future__ import annotations

import importlib
import sys

import typer

from avemotion.errors import AvemotionError

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


# One module per group of commands; each exposes register(app). Heavy imports live inside commands
# so that `avemotion --help` stays fast.
COMMAND_MODULES = ("data", "models", "train", "predict", "export", "weights", "voice", "serve")

for _name in COMMAND_MODULES:
    importlib.import_module(f"avemotion.cli.{_name}").register(app)


def run() -> None:
    # typer's standalone mode handles usage errors and exits; our own errors become one line.
    try:
        app()
    except AvemotionError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except FileNotFoundError as err:
        typer.echo(f"error: {err.filename}: no such file or directory", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished work is kept; run the same command again to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    run()
