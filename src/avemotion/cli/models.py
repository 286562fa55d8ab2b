"""CLI commands: models (placeholder until its issue lands)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_cmd() -> None:
        """List the registered models."""
        from avemotion.models import list_models

        for name in list_models():
            typer.echo(name)
