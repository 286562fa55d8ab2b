"""The cross-corpus report of a voice model (evaluation/voice_report.py)."""

from __future__ import annotations

import numpy as np

from avemotion.evaluation.voice_report import COLLAPSE, corpus_report, expected_calibration_error, report_markdown, restrict


def one_hot(idx, k, p=1.0):
    out = np.full((len(idx), k), (1 - p) / (k - 1))
    out[np.arange(len(idx)), idx] = p
    return out


def test_a_model_answering_one_class_to_most_utterances_is_flagged_as_collapsed():
    names = ["neutral", "calm", "happy", "sad"]
    truth = ["neutral", "happy", "sad"] * 10
    pred = [1] * 20 + [0, 2, 3] * 3 + [0]  # "calm" for 20 of 30
    report = corpus_report(truth, one_hot(pred, 4, 0.7), names, ["a", "b"] * 15, corpus="x", model="m")
    # calm is not a class of the corpus: scores are on the 3 shared ones, so the answers are renormalised
    assert report["classes"] == ["neutral", "happy", "sad"]
    share = report["overall"]["predicted_share"]
    assert abs(sum(share.values()) - 1) < 1e-9
    balanced = corpus_report(truth, one_hot([0, 2, 3] * 10, 4, 0.7), names, ["a"] * 30, corpus="x", model="m")
    assert balanced["overall"]["collapse"] is None
    collapsed = corpus_report(truth, one_hot([2] * 16 + [0, 2, 3] * 4 + [0, 3], 4, 0.7), names, ["a"] * 30, corpus="x", model="m")
    assert collapsed["overall"]["predicted_share"]["happy"] > COLLAPSE
    assert collapsed["overall"]["collapse"] == "happy"
    assert "Collapse: happy" in report_markdown(collapsed)


def test_scores_are_on_the_shared_classes_and_other_classes_are_counted():
    report = corpus_report(["angry", "boredom", "sad", "angry"], one_hot([0, 0, 1, 0], 2), ["angry", "sad"],
                           ["s1", "s1", "s2", "s2"], corpus="emodb", model="m")
    assert report["left_out"] == {"boredom": 1}
    assert report["overall"]["clips"] == 3 and report["overall"]["uar"] == 1.0
    assert set(report["speakers"]) == {"s1", "s2"}
    assert report["speakers"]["s1"]["clips"] == 1 and report["speakers"]["s2"]["clips"] == 2


def test_uar_is_the_mean_of_the_recalls_not_the_accuracy():
    truth = ["a"] * 8 + ["b"] * 2
    report = corpus_report(truth, one_hot([0] * 10, 2), ["a", "b"], ["s"] * 10, corpus="c", model="m")
    assert report["overall"]["accuracy"] == 0.8
    assert report["overall"]["uar"] == 0.5


def test_ece_is_zero_when_confidence_equals_accuracy_and_large_when_overconfident():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    right_at_75 = one_hot([0, 0, 0, 1, 1, 1, 1, 0], 2, 0.75)  # 6 of 8 right at confidence 0.75
    assert abs(expected_calibration_error(right_at_75, y)) < 1e-9
    wrong_sure = one_hot([1, 1, 1, 1, 0, 0, 0, 0], 2, 0.99)
    assert abs(expected_calibration_error(wrong_sure, y) - 0.99) < 1e-9


def test_restrict_renormalises_over_the_shared_columns_in_their_order():
    p = np.array([[0.1, 0.2, 0.3, 0.4]])
    out = restrict(p, ["a", "b", "c", "d"], ["d", "b"])
    np.testing.assert_allclose(out, [[0.4 / 0.6, 0.2 / 0.6]])
