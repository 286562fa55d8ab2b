"""One row per registered model, with its real parameter count (used by `avemotion models`)."""

from __future__ import annotations

from avemotion.models.registry import count_parameters, list_models, model_info, model_params  # noqa: F401


def model_rows(scale: str = "full") -> list[dict]:
    rows = []
    for name in list_models():
        info = model_info(name)
        rows.append(
            {
                "name": name,
                "fusion": info.fusion,
                "modalities": info.modalities,
                "params": model_params(name, scale),
                "paper_params": info.paper_params,
                "paper_accuracy": info.paper_accuracy,
                "description": info.description,
            }
        )
    return rows


def _differs_from_paper(row: dict) -> bool:
    """Whether our full-size count is not the paper's (to its printed 0.01M): our construction."""
    return row["paper_params"] is None or round(row["params"] / 1e6, 2) != row["paper_params"]


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def models_markdown(scale: str = "full") -> str:
    """The registry as a Markdown table; docs/models.md holds exactly this (full scale).
    At full scale, counts in bold are ours where the paper's differ or are missing."""
    lines = [
        "| name | fusion | modalities | params (ours) | paper params (M) | paper acc. % | description |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in model_rows(scale):
        params = f"{row['params']:,}"
        if scale == "full" and _differs_from_paper(row):
            params = f"**{params}**"
        paper_params = "-" if row["paper_params"] is None else f"{row['paper_params']:.2f}"
        paper_accuracy = "-" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:.2f}"
        cells = (f"`{row['name']}`", row["fusion"], "+".join(row["modalities"]), params, paper_params, paper_accuracy,
                 row["description"])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
