"""`avemotion models` prints the registry as a table."""

import typer
from typer.testing import CliRunner

from avemotion.cli.models import register
from avemotion.models import list_models


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("other")  # a second command so typer keeps `models` as a subcommand
    def other() -> None:
        pass

    return app


def test_models_table_lists_every_model_with_counts():
    result = CliRunner().invoke(make_app(), ["models"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in list_models():
        assert name in result.output
    assert "26,301,417" in result.output and "26.30M" in result.output and "75.76" in result.output
    assert "intermediate" in result.output and "unimodal" in result.output


def test_models_table_tiny_scale():
    result = CliRunner().invoke(make_app(), ["models", "--scale", "tiny"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "tiny scale" in result.output
    assert "26,301,417" not in result.output
