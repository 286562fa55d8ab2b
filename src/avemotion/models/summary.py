"""One row per registered model, with its real parameter count (used by `avemotion models`)."""

from __future__ import annotations

import torch

from avemotion.models.registry import create_model, list_models, model_info


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_rows(scale: str = "full") -> list[dict]:
    rows = []
    for name in list_models():
        # Built on the meta device: shapes only, no memory and no initialisation cost.
        with torch.device("meta"):
            model = create_model(name, scale=scale)
        info = model_info(name)
        rows.append(
            {
                "name": name,
                "fusion": info.fusion,
                "modalities": info.modalities,
                "params": count_parameters(model),
                "paper_params": info.paper_params,
                "paper_accuracy": info.paper_accuracy,
                "description": info.description,
            }
        )
    return rows
