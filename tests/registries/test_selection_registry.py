"""registries.selection is the one module that knows the selection rules (issue 22): every rule
declares every property, no other module spells a rule's name, and a registered rule is one users
can choose."""

from __future__ import annotations

import dataclasses

import pytest
from names_scan import spelled

from avemotion.errors import ConfigError
from avemotion.registries import selection
from avemotion.training.presets import TrainConfig, get_preset

# Constants that happen to equal a rule's name but are not selection rules: the fold splits
# ("val" actors) and the Lightning/face-track "last" keys.
NOT_RULES = {
    ("data/folds.py", "val"), ("evaluation/cross.py", "val"), ("training/protocol.py", "val"),
    ("training/voice_protocol.py", "val"), ("data/faces.py", "last"), ("training/run.py", "last"),
}


def test_every_rule_declares_every_property():
    fields = [f.name for f in dataclasses.fields(selection.SelectionRule)]
    for name, rule in selection.RULES.items():
        assert rule.name == name
        for field in fields:
            assert hasattr(rule, field), (name, field)
        assert rule.validates_on in ("val", "test", None), name
        assert isinstance(rule.help, str) and rule.help, name
        assert rule.optimistic == (rule.validates_on == "test"), name  # selecting on the test fold is optimistic
        assert rule.uses_validation == (rule.validates_on == "val"), name
        assert (rule.key is None) == (rule.validates_on is None), name  # no validation loop: the last epoch
        assert rule.note or rule.optimistic, name  # optimistic runs print the OPTIMISTIC note instead
    assert selection.DEFAULT in selection.RULES and selection.REFIT_STAGE_RULE in selection.RULES
    assert selection.get(selection.REFIT_STAGE_RULE).key is None
    assert sum(r.published for r in selection.RULES.values()) == 1


def test_no_module_outside_the_registry_spells_a_rule():
    names = list(selection.RULES)
    common = [n for n in names if "-" not in n]  # plain words ("val", "last") count only as a whole constant
    hits = [(path, name, text) for path, name, text in spelled(names, exact_only=common)
            if path != "registries/selection.py" and (path, name) not in NOT_RULES]
    assert hits == []


def test_a_registered_rule_is_one_users_can_choose(monkeypatch):
    with pytest.raises(ConfigError, match="selection must be one of"):
        TrainConfig(selection="dummy-rule")
    dummy = selection.SelectionRule(
        name="dummy-rule", validates_on="val", uses_validation=True, optimistic=False, allows_refit=True,
        published=False, key=lambda m: (-m["val_loss"],), note="lowest validation loss", help="lowest validation loss")
    monkeypatch.setitem(selection.RULES, dummy.name, dummy)
    cfg = get_preset("small", selection="dummy-rule", refit=True)
    assert cfg.uses_validation and not cfg.optimistic
    assert "dummy-rule: lowest validation loss." in selection.help_text()
    assert selection.note("dummy-rule") == "lowest validation loss"
    assert selection.selected_on_validation("dummy-rule")
    with pytest.raises(ConfigError, match="needs inner validation actors"):
        TrainConfig(selection="dummy-rule", n_val=0)


def test_the_rules_keep_their_behaviour():
    m = {"val_acc": 0.5, "val_loss": 1.25}
    assert selection.get("val").key(m) == (0.5, -1.25)
    assert selection.get("test-legacy").key(m) == (0.5,)
    assert selection.published_rule() == "test-legacy" and get_preset("small", legacy=True).optimistic
    assert selection.without_validation() == "last or test-legacy"
    assert not selection.selected_on_validation("refit") and not selection.selected_on_validation(None)
    assert selection.note(None) == selection.note("val") == "selection on inner validation actors; test fold scored once"
