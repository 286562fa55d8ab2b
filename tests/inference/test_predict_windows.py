import numpy as np
import pytest

from avemotion.errors import ConfigError
from avemotion.inference.windows import check_window, is_long, plan_windows, smooth_probs


def test_short_video_is_one_window():
    assert plan_windows(2.2, 3.0, 1.0) == [(0.0, 2.2)]
    assert not is_long(4.5, 3.0)
    assert is_long(4.6, 3.0)


def test_windows_follow_the_hop_and_cover_the_end():
    spans = plan_windows(10.0, 3.0, 1.0)
    assert spans[0] == (0.0, 3.0)
    assert [s for s, _ in spans] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert spans[-1] == (7.0, 10.0)


def test_tail_left_by_the_grid_gets_a_window_flush_with_the_end():
    spans = plan_windows(6.5, 3.0, 2.0)
    assert spans == [(0.0, 3.0), (2.0, 5.0), (3.5, 6.5)]
    assert all(round(e - s, 6) == 3.0 for s, e in spans)


def test_window_shorter_than_the_audio_needs_is_refused_unless_padding():
    with pytest.raises(ConfigError, match="pad-short"):
        check_window(2.0, 1.0, min_duration=2.95, pad_short=False)
    check_window(2.0, 1.0, min_duration=2.95, pad_short=True)
    with pytest.raises(ConfigError):
        check_window(3.0, 0.0, min_duration=2.95, pad_short=False)


def test_smoothing_is_a_centred_moving_average():
    probs = np.eye(3)[[0, 0, 1, 0, 0]]  # one outlier window of class 1
    out = smooth_probs(probs, 3)
    assert out.shape == probs.shape
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(out[2], [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(out[0], [1.0, 0, 0])  # edge: mean of windows 0 and 1
    assert (out.argmax(axis=1) == 0).all()
    np.testing.assert_array_equal(smooth_probs(probs, 1), probs)
