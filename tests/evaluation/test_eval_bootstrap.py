"""Bootstrap intervals over videos."""

import numpy as np
import pytest

from wsvol.evaluation.bootstrap import bootstrap_corloc, bootstrap_corloc_difference, corloc_of


def test_interval_contains_estimate_and_max_over_tau_is_used():
    rng = np.random.default_rng(0)
    correct = rng.random((120, 7)) < np.linspace(0.2, 0.8, 7)
    videos = [f"v{i // 4}" for i in range(120)]
    ci = bootstrap_corloc(correct, videos, n_boot=300, seed=1)
    assert ci.estimate == pytest.approx(correct.mean(0).max() * 100) == corloc_of(correct)
    assert ci.low <= ci.estimate <= ci.high and ci.n_boot == 300
    assert bootstrap_corloc(correct, videos, n_boot=300, seed=1) == ci  # seeded


def test_all_correct_gives_a_point():
    ci = bootstrap_corloc(np.ones((30, 5), bool), [f"v{i % 6}" for i in range(30)], n_boot=200)
    assert ci.estimate == ci.low == ci.high == 100.0


def test_binomial_width():
    """One frame per video, one threshold: the interval matches the normal approximation."""
    rng = np.random.default_rng(3)
    n = 400
    correct = rng.random((n, 1)) < 0.7
    ci = bootstrap_corloc(correct, [str(i) for i in range(n)], n_boot=2000, seed=0)
    p = correct.mean()
    half = 1.96 * np.sqrt(p * (1 - p) / n) * 100
    assert ci.low == pytest.approx(p * 100 - half, abs=1.0) and ci.high == pytest.approx(
        p * 100 + half, abs=1.0
    )


def test_whole_videos_are_resampled():
    """Videos that are all right or all wrong: the interval is wider than for independent frames."""
    videos = [f"v{i // 10}" for i in range(200)]
    grouped = np.repeat(np.arange(20) % 2 == 0, 10)[:, None]
    independent = (np.arange(200) % 2 == 0)[:, None]
    wide = bootstrap_corloc(grouped, videos, n_boot=500)
    narrow = bootstrap_corloc(independent, videos, n_boot=500)
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low)


def test_paired_difference():
    rng = np.random.default_rng(5)
    a = rng.random((100, 3)) < 0.6
    videos = [f"v{i // 5}" for i in range(100)]
    same = bootstrap_corloc_difference(a, a, videos, n_boot=200)
    assert same.estimate == same.low == same.high == 0.0
    better = a | (rng.random((100, 3)) < 0.5)
    diff = bootstrap_corloc_difference(better, a, videos, n_boot=300)
    assert diff.estimate == pytest.approx(corloc_of(better) - corloc_of(a))
    assert diff.low >= 0  # ``better`` is never worse on any resample
    with pytest.raises(ValueError, match="video ids"):
        bootstrap_corloc(a, videos[:-1])
