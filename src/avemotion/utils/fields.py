"""Dataclasses read back from JSON."""

from __future__ import annotations

import dataclasses


def known_fields(cls, d: dict) -> dict:
    """The entries of `d` that are fields of the dataclass `cls`: a file written by a newer version
    may hold keys this one does not know, and reading it must not fail on them."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}
