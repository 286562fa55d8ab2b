"""Where the source tree spells a registry's names: non-docstring string constants (comments and
docstrings are documentation and may name them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "avemotion"


def spelled(names, *, exact_only=()) -> list[tuple[str, str, str]]:
    """(path relative to src/avemotion, name, constant) for every string constant that holds a name
    as a word (a name in `exact_only`, a common word like "val", counts only as the whole constant)."""
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docs:
                continue
            for name in names:
                if name in exact_only:
                    found = node.value == name
                else:
                    found = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", node.value) is not None
                if found:
                    hits.append((path.relative_to(SRC).as_posix(), name, node.value))
    return hits
