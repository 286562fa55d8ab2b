"""CLI command: `avemotion weights [NAME] [--card] [--json]`: the voice models that ship with avemotion.

Every listed file is verified (its SHA-256 against the one written in the code and in its JSON).
Exit status: 0 all verify; 1 a shipped file does not verify (one line per file on stderr, naming
it: a damaged install, as `sha256sum -c` reports a mismatch); 2 an unknown name or a missing card.
"""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("weights")(weights_cmd)


def weights_cmd(
    name: Optional[str] = typer.Argument(None, help="One shipped model (default: list them all).", show_default=False),
    card: bool = typer.Option(False, "--card", help="Print the model card (Markdown) of NAME (default: the default model)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the voice models that ship with avemotion (name, model, classes, parameters, licence,
    summary, whether the file verifies); `--card` prints one's model card. `avemotion predict FILE`
    without --run uses the default one."""
    import json

    from avemotion.inference import pretrained

    if card:
        typer.echo(pretrained.get_weights(name).card(), nl=False)
        return
    entries = [pretrained.get_weights(name)] if name is not None else [pretrained.WEIGHTS[n] for n in pretrained.list_weights()]
    rows = [entry.info() for entry in entries]
    if as_json:
        typer.echo(json.dumps({"default": pretrained.DEFAULT_VOICE, "weights": rows}, indent=2))
    elif not rows:
        typer.echo("no voice weights ship with this version of avemotion (predict needs --run RUN)")
    else:
        _table(rows)
    for row in rows:
        if not row["verified"]:
            typer.echo(f"error: {row['problem']}", err=True)
    if not all(row["verified"] for row in rows):
        raise typer.Exit(1)


def _table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped: rich assumes 80 columns
        console = Console(width=140)
    table = Table(title="avemotion voice weights (predict without --run; `avemotion weights NAME --card`)")
    for column, justify in (("name", "left"), ("model", "left"), ("classes", "left"), ("params", "right"),
                            ("licence", "left"), ("summary", "left"), ("verified", "left")):
        table.add_column(column, justify=justify, no_wrap=column in ("name", "params", "verified"))
    for row in rows:
        table.add_row(
            escape(row["name"] + (" (default)" if row["default"] else "")),
            escape(row["model"] or "-"),
            escape(", ".join(row["classes"])) if row["classes"] else "-",
            f"{row['params']:,}" if row["params"] is not None else "-",
            escape(row.get("licence_short") or row["licence"]),
            escape(row["summary"]),
            "yes (SHA-256)" if row["verified"] else "[red]NO[/red]",
        )
    console.print(table)
