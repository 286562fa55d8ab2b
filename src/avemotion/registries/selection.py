"""Checkpoint selection rules (`--selection`, TrainConfig.selection): the one place that knows them.

Each rule declares what the protocol, the SelectBest callback, the reports and the CLI need, so no
other module compares a selection name. A refit stage (`--refit`) is not a rule: it keeps its last
epoch (REFIT_STAGE_RULE) and records "refit" (REFIT) as its selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class SelectionRule:
    name: str  # the --selection value, recorded in run.json, metrics.json and best.json
    # the validation loader holds: "val" (inner validation actors), "test" (the test fold) or None
    # (no validation loop: the rule keeps the final epoch)
    validates_on: Optional[str]
    uses_validation: bool  # selects on inner validation actors: needs n_val >= 1, keeps them out of training
    optimistic: bool  # selects on the test fold: labelled OPTIMISTIC in every report
    allows_refit: bool  # --refit may retrain for the epoch count this rule selected
    published: bool  # the rule of the published code (--legacy sets it)
    key: Optional[Callable[[dict], tuple]]  # validation metrics -> sort key (higher wins); None: last epoch
    note: Optional[str]  # the report's one-line account of how checkpoints were chosen (None: optimistic)
    help: str  # its part of the --selection help


RULES: dict[str, SelectionRule] = {}


def register(rule: SelectionRule) -> SelectionRule:
    RULES[rule.name] = rule
    return rule


register(SelectionRule(
    name="val", validates_on="val", uses_validation=True, optimistic=False, allows_refit=True, published=False,
    key=lambda m: (m["val_acc"], -m["val_loss"]),  # highest accuracy, ties to the lower loss
    note="selection on inner validation actors; test fold scored once",
    help="selection on inner validation actors (default)",
))
register(SelectionRule(
    name="test-legacy", validates_on="test", uses_validation=False, optimistic=True, allows_refit=False, published=True,
    key=lambda m: (m["val_acc"],),  # the first epoch with the highest test-fold accuracy, as published
    note=None,  # optimistic: the reports print their OPTIMISTIC note instead
    help="best test-fold accuracy over epochs, as published (OPTIMISTIC; trains on the validation actors too)",
))
register(SelectionRule(
    name="last", validates_on=None, uses_validation=False, optimistic=False, allows_refit=False, published=False,
    key=None,
    note="last epoch, no selection; test fold scored once",
    help="final epoch (trains on the validation actors too)",
))

DEFAULT = "val"
REFIT_STAGE_RULE = "last"  # the rule a refit stage trains under: its epoch count is fixed
REFIT = "refit"  # the selection a refit stage records (metrics.json), and the run flag's name


def names() -> tuple[str, ...]:
    return tuple(RULES)


def get(name: str) -> SelectionRule:
    """The rule `name`; KeyError for an unknown one (TrainConfig refuses those first)."""
    return RULES[name]


def published_rule() -> str:
    """The rule --legacy selects with (the published code's)."""
    return next(r.name for r in RULES.values() if r.published)


def selected_on_validation(recorded) -> bool:
    """Whether a recorded selection (metrics.json, best.json; also "refit" or "imported") chose its
    checkpoint on inner validation actors, so that its selection_metrics are a validation score."""
    rule = RULES.get(recorded) if isinstance(recorded, str) else None
    return bool(rule and rule.uses_validation)


def note(recorded) -> str:
    """The report's note for a run's recorded selection (the default rule's for one it does not know)."""
    rule = RULES.get(recorded) if isinstance(recorded, str) else None
    return (rule and rule.note) or RULES[DEFAULT].note


def help_text() -> str:
    return " ".join(f"{r.name}: {r.help}." for r in RULES.values())


def without_validation() -> str:
    """The rules that need no inner validation actors, for messages ("a or b", sorted)."""
    return " or ".join(sorted(r.name for r in RULES.values() if not r.uses_validation))


def refit_rules() -> str:
    return ", ".join(repr(r.name) for r in RULES.values() if r.allows_refit)
