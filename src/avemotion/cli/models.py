"""CLI commands: `avemotion models` (the registry as a table)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_cmd(
        scale: str = typer.Option("full", help="Count parameters at this scale: full (the paper) or tiny."),
        markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table (the one in docs/models.md)."),
    ) -> None:
        """List the registered models: fusion stage, our parameter count, the paper's count and accuracy."""
        # Heavy imports here so that `avemotion --help` stays fast.
        from rich.console import Console
        from rich.table import Table

        from avemotion.models.summary import model_rows, models_markdown

        if markdown:
            typer.echo(models_markdown(scale), nl=False)
            return

        console = Console()
        if not console.is_terminal:  # piped: rich assumes 80 columns, too few for the numbers
            console = Console(width=100)
        # The description only fits a wide terminal; the numbers must never wrap.
        wide = console.width >= 120
        table = Table(title=f"avemotion models ({scale} scale; paper: RAVDESS 6-fold, published selection)")
        for column, justify in (
            ("name", "left"),
            ("fusion", "left"),
            ("params (ours)", "right"),
            ("params (paper)", "right"),
            ("acc. % (paper)", "right"),
            ("description", "left"),
        ):
            if column == "description" and not wide:
                continue
            table.add_column(column, justify=justify, no_wrap=column != "description")
        for row in model_rows(scale):
            table.add_row(
                row["name"],
                row["fusion"],
                f"{row['params']:,}",
                "-" if row["paper_params"] is None else f"{row['paper_params']:.2f}M",
                "-" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:.2f}",
                *([row["description"]] if wide else []),
            )
        console.print(table)
