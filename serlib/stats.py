"""Paired comparisons whose false-alarm rate is known: a sign-flip permutation test.

Two runs trained on the same folds with the same repeat numbers give one difference per
(fold, repeat) pair. If the runs differed only in their training seeds, each difference
would be as likely negative as positive, whatever the fold; flipping the signs of the
pairs at random then draws the statistic's distribution under that null, and the share of
flips at least as extreme as the observed one is an exact p-value. The test therefore
declares "beyond noise" in at most 5 % of comparisons between runs that differ only in
their seeds, on any distribution of scores (tests/test_stats.py measures it on a model of
real runs). Its 95 % interval is the set of shifts the test does not reject.

What it cannot say: the pairs are these folds' test speakers and these training seeds, so
a verdict is about them, not about other speakers or another corpus. With n pairs the
smallest p-value possible is 2 / 2**n: five pairs (5 folds, one repeat) can never reach
0.05, and the verdict is then "too few folds to tell", with no interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The test's level: "higher" or "lower" is declared when p < ALPHA.
ALPHA = 0.05
#: Up to this many pairs, every sign pattern is enumerated (2**12 = 4,096) and p is exact.
EXACT_PAIRS = 12
#: Above it, this many random sign patterns (the p-value's Monte Carlo error is about 0.002
#: at p = 0.05).
RANDOM_FLIPS = 20_000
#: Fewer folds than this give "too few folds to tell" whatever the pairs.
MIN_FOLDS = 3


@dataclass(frozen=True)
class SignFlip:
    """The outcome of :func:`sign_flip_test`, in the units of the differences."""

    mean: float   # the statistic: the mean over folds of each fold's mean difference
    low: float    # the 95 % interval (NaN when too few pairs to decide anything)
    high: float
    p: float      # two-sided p-value of "no difference"
    pairs: int
    folds: int

    @property
    def decidable(self) -> bool:
        """Whether these pairs could reach p < ALPHA at all (2 / 2**pairs < ALPHA)."""
        return self.folds >= MIN_FOLDS and smallest_p(self.pairs) < ALPHA

    @property
    def verdict(self) -> str:
        """``higher``, ``lower``, ``within noise``, or ``too few folds to tell``."""
        if not self.decidable:
            return "too few folds to tell"
        if self.p < ALPHA:
            return "higher" if self.mean > 0 else "lower"
        return "within noise"


def smallest_p(pairs: int) -> float:
    """The smallest two-sided p-value a sign-flip test over ``pairs`` pairs can give."""
    return min(1.0, 2.0 / 2.0 ** pairs)


def _signs(n: int, seed: int) -> np.ndarray:
    """Sign patterns ``(M, n)``: all 2**n up to EXACT_PAIRS pairs, else RANDOM_FLIPS random
    ones with the identity first (so that the observed statistic counts itself)."""
    if n <= EXACT_PAIRS:
        codes = np.arange(2 ** n)[:, None] >> np.arange(n) & 1
        return 1.0 - 2.0 * codes
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(RANDOM_FLIPS, n))
    signs[0] = 1.0
    return signs


def _p_value(centred: np.ndarray, weights: np.ndarray, signs: np.ndarray) -> float:
    """Two-sided p of the weighted mean of ``centred`` (n,) under sign flips ``(M, n)``."""
    observed = abs(float(weights @ centred))
    flipped = np.abs(signs @ (weights * centred))
    # A relative tolerance: flips equal to the observed value in exact arithmetic count.
    return float(np.mean(flipped >= observed - 1e-9 * max(1.0, observed)))


def sign_flip_test(groups: list[np.ndarray], *, alpha: float = ALPHA, seed: int = 0,
                   interval: bool = True) -> SignFlip:
    """Test whether paired differences are centred on 0; one array of differences per fold.

    ``groups``: for each fold, its differences ``(R_f,)`` (one per repeat, or one per fold
    whose repeats do not match). The statistic is the mean over folds of each fold's mean,
    so a fold weighs the same whatever its repeats. The interval inverts the test: it holds
    every shift ``delta`` for which the differences minus ``delta`` are not rejected at
    ``alpha``, so it excludes 0 exactly when p < alpha (``interval=False`` skips it: NaN)."""
    diffs = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    weights = np.concatenate([np.full(len(g), 1.0 / (len(groups) * len(g))) for g in groups])
    n, mean = len(diffs), float(weights @ diffs)
    signs = _signs(n, seed)
    p = _p_value(diffs, weights, signs)
    low = high = float("nan")
    if interval and len(groups) >= MIN_FOLDS and smallest_p(n) < alpha:
        low = _bound(diffs, weights, signs, mean, float(diffs.min()), alpha)
        high = _bound(diffs, weights, signs, mean, float(diffs.max()), alpha)
    return SignFlip(mean, low, high, p, n, len(groups))


def _bound(diffs: np.ndarray, weights: np.ndarray, signs: np.ndarray, inside: float,
           outside: float, alpha: float, steps: int = 40) -> float:
    """The interval's end between ``inside`` (the mean: p = 1) and ``outside`` (an extreme
    difference: every centred difference has one sign, p = 2 / 2**n), by bisection."""
    if _p_value(diffs - outside, weights, signs) >= alpha:
        return outside
    for _ in range(steps):
        middle = (inside + outside) / 2
        if _p_value(diffs - middle, weights, signs) >= alpha:
            inside = middle
        else:
            outside = middle
    return (inside + outside) / 2
