"""`avemotion models` prints the registry as a table; `--markdown` is the one in docs/models.md."""

from pathlib import Path

import typer
from typer.testing import CliRunner

from avemotion.cli.models import register
from avemotion.models import list_models
from avemotion.models.summary import models_markdown

START_MARKER = "<!-- models-table:start"
END_MARKER = "<!-- models-table:end -->"


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


def test_models_markdown_prints_the_generated_table():
    result = CliRunner().invoke(make_app(), ["models", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == models_markdown()
    rows = result.output.splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{name}`" for name in list_models()]
    cfn_sr = next(row for row in rows if row.startswith("| `cfn_sr` |"))
    assert cfn_sr.split(" | ")[1:6] == ["intermediate", "video+audio", "26,301,417", "26.30", "75.76"]
    mcbp = next(row for row in rows if row.startswith("| `mcbp` |"))
    assert "**26,014,376**" in mcbp  # not the paper's 51.03M: our construction, in bold


def docs_table() -> str:
    """The part of docs/models.md between the table markers (the marker lines excluded)."""
    text = (Path(__file__).parents[2] / "docs" / "models.md").read_text()
    start = text.index(START_MARKER)
    start = text.index("\n", start) + 1
    return text[start : text.index(END_MARKER)]


def test_docs_models_table_is_the_generated_one():
    """docs/models.md cannot drift from the registry: regenerate it with `avemotion models --markdown`."""
    assert docs_table() == models_markdown()
