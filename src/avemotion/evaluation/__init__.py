"""Evaluation: metrics from per-clip predictions, slices, mean ± std, paired comparisons, reports."""

from avemotion.evaluation.metrics import aggregate_folds, paired_comparison, score, slices  # noqa: F401
from avemotion.evaluation.report import build_report  # noqa: F401
