"""Metrics from per-clip predictions: values checked against hand counts."""

import math

import pytest

from avemotion.evaluation.metrics import aggregate_folds, mean_std, paired_comparison, score, slices


def test_score_matches_hand_counts():
    # class 0: 3 clips, 2 right; class 1: 1 clip, right; class 2: 2 clips, 0 right (both -> 1)
    labels = [0, 0, 0, 1, 2, 2]
    preds = [0, 0, 1, 1, 1, 1]
    s = score(labels, preds, names=["0", "1", "2"])
    assert s["n"] == 6
    assert s["accuracy"] == pytest.approx(3 / 6)
    assert s["uar"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # F1: class0 p=1 r=2/3 -> 0.8; class1 p=1/4 r=1 -> 0.4; class2 -> 0
    assert s["macro_f1"] == pytest.approx((0.8 + 0.4 + 0.0) / 3)
    assert s["confusion"] == [[2, 1, 0], [0, 1, 0], [0, 2, 0]]
    assert s["per_class_recall"] == pytest.approx({"0": 2 / 3, "1": 1.0, "2": 0.0})


def test_absent_class_is_none_and_left_out_of_uar():
    s = score([0, 1], [0, 0], names=["0", "1", "2"])
    assert s["per_class_recall"]["2"] is None
    assert s["uar"] == pytest.approx(0.5)


def test_slices_group_by_actor_gender_intensity():
    preds = [
        {"label": 0, "pred": 0, "actor": 1, "gender": "male", "intensity": 1},
        {"label": 1, "pred": 0, "actor": 1, "gender": "male", "intensity": 2},
        {"label": 1, "pred": 1, "actor": 2, "gender": "female", "intensity": -1},
    ]
    out = slices(preds, names=["a", "b"])
    assert out["actor"]["1"]["accuracy"] == pytest.approx(0.5)
    assert out["actor"]["2"]["accuracy"] == pytest.approx(1.0)
    assert out["gender"]["female"]["n"] == 1
    assert set(out["intensity"]) == {"1", "2"}  # unknown intensity (-1) is not a slice


def test_mean_std_uses_sample_std():
    s = mean_std([0.5, 0.7, None])
    assert s["mean"] == pytest.approx(0.6)
    assert s["std"] == pytest.approx(math.sqrt(0.02))
    assert mean_std([0.4])["std"] == 0.0


def test_aggregate_folds():
    a = score([0, 1], [0, 1], names=["0", "1"])
    b = score([0, 1], [0, 0], names=["0", "1"])
    agg = aggregate_folds({0: a, 1: b})
    assert agg["accuracy"]["mean"] == pytest.approx(0.75)
    assert agg["per_class_recall"]["1"]["mean"] == pytest.approx(0.5)


def test_paired_comparison_differences_and_tests():
    ref = {k: 0.5 for k in range(6)}
    better = {k: 0.6 + 0.01 * k for k in range(6)}
    c = paired_comparison(better, ref)
    assert c["difference"]["mean"] == pytest.approx(0.125)
    assert c["wilcoxon_p"] == pytest.approx(0.03125)  # exact test, all 6 differences positive
    assert c["ttest_p"] < 0.001
    same = paired_comparison(ref, ref)
    assert same["wilcoxon_p"] is None
