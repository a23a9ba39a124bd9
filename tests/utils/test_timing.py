"""The benchmarks' statistics: the median's interval against the binomial law, paired ratios,
the three-way result, and interleaved rounds."""

from __future__ import annotations

import math
import random
import time
from fractions import Fraction

import pytest

from wsvol.utils.timing import (
    interleaved_clocks,
    interleaved_samples,
    median_interval,
    paired_ratio,
    verdict,
)


def _coverage(n: int, k: int) -> Fraction:
    """Exact P(x_(k) <= median < x_(n+1-k)) for n independent draws: 1 - 2·P(Binomial(n, 1/2) < k)."""
    return 1 - 2 * sum(Fraction(math.comb(n, i), 2**n) for i in range(k))


@pytest.mark.parametrize("n", range(1, 41))
def test_median_interval_picks_the_narrowest_95_percent_order_statistics(n):
    values = [float(v) for v in random.Random(n).sample(range(1000), n)]
    median, low, high = median_interval(values)
    xs = sorted(values)
    assert median == (xs[(n - 1) // 2] + xs[n // 2]) / 2
    ks = [k for k in range(1, n // 2 + 1) if _coverage(n, k) >= Fraction(95, 100)]
    if not ks:  # n <= 5: no pair of order statistics covers the median 95 % of the time
        assert math.isnan(low) and math.isnan(high)
        return
    k = max(ks)
    assert (low, high) == (xs[k - 1], xs[n - k])
    assert low <= median <= high


def test_median_interval_covers_a_known_median():
    """Draws of Exp(1) (median ln 2): the 95 % interval of 10 draws holds ln 2 in about 97.9 % of
    trials (the exact coverage of (x_(2), x_(9)))."""
    rng = random.Random(0)
    trials = 4000
    hits = 0
    for _ in range(trials):
        _, low, high = median_interval([rng.expovariate(1.0) for _ in range(10)])
        hits += low <= math.log(2) <= high
    exact = float(_coverage(10, 2))
    assert abs(hits / trials - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


def test_median_interval_rejects_nothing():
    with pytest.raises(ValueError, match="at least one"):
        median_interval([])


def test_paired_ratio_is_the_median_of_round_ratios():
    num = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    den = [1.0, 2.0, 2.0, 2.0, 4.0, 1.0]  # ratios 2, 1.5, 2, 2.5, 1.5, 7
    assert paired_ratio(num, den) == (2.0, 1.5, 7.0)
    with pytest.raises(ValueError, match="6 and 5"):
        paired_ratio(num, den[:5])


@pytest.mark.parametrize(("ratio", "target", "better", "interval", "want"), [
    (0.9, None, "lower", None, ""),
    (0.9, 1.0, "lower", None, "pass"),
    (1.1, 1.0, "lower", None, "miss"),
    (0.95, 1.0, "lower", (0.90, 0.99), "pass"),
    (0.99, 1.0, "lower", (0.95, 1.02), "tie"),
    (1.05, 1.0, "lower", (1.01, 1.10), "miss"),
    (25.0, 20.0, "higher", (21.0, 30.0), "pass"),
    (21.0, 20.0, "higher", (19.0, 30.0), "tie"),
    (0.9, 1.0, "lower", (math.nan, math.nan), "pass"),  # too few rounds: the ratio alone decides
])
def test_verdict(ratio, target, better, interval, want):
    assert verdict(ratio, target, better, interval) == want


def test_interleaved_samples_runs_every_call_once_a_round_in_changing_orders():
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in "abcd"}
    times = interleaved_samples(calls, 12, "cpu")
    assert {name: len(t) for name, t in times.items()} == dict.fromkeys("abcd", 12)
    assert all(t >= 0 for ts in times.values() for t in ts)
    assert log[:4] == list("abcd")  # the warm-up, in the given order
    rounds = [log[4 + 4 * i: 8 + 4 * i] for i in range(12)]
    assert all(sorted(r) == list("abcd") for r in rounds)
    assert rounds[0] == list("abcd")
    # no call is always the first of a round
    assert len({r[0] for r in rounds}) > 1


def test_interleaved_clocks_time_wall_and_cpu_of_the_same_call():
    def sleep() -> None:  # waits: wall time passes, CPU time hardly does
        time.sleep(0.03)

    def spin() -> None:  # works: CPU time about equals wall time
        end = time.process_time() + 0.03
        while time.process_time() < end:
            pass

    clocks = interleaved_clocks({"sleep": sleep, "spin": spin}, 3, "cpu")
    assert all(wall >= 0.03 and cpu < 0.015 for wall, cpu in clocks["sleep"])
    assert all(cpu >= 0.03 and wall >= 0.9 * cpu for wall, cpu in clocks["spin"])
    samples = interleaved_samples({"sleep": sleep}, 3, "cpu")["sleep"]
    assert all(t < 0.015 for t in samples)  # on a CPU the samples are CPU time
