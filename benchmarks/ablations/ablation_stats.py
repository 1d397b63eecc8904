"""The numbers behind a verdict: per-arm means with 95% t intervals, the paired bootstrap of
the mechanism arm against each other arm, the verdict rule and the sample size a decisive
run would need.

Verdict rule (the page prints it): each comparison cell is one (dataset, metric, other arm);
oracle arms are an upper bound, shown but not compared. A cell is *better* (*worse*) when the
mechanism arm's mean is better (worse) in the metric's direction with paired-bootstrap
p < 0.05. **reproduced**: better in more than half of the cells and worse in none; **not
reproduced**: worse in more than half, or worse in some and better in none; otherwise
**inconclusive at this scale**.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colorbench.reporting.significance import ALPHA, aligned, paired_bootstrap
from colorbench.results.summary import t_halfwidth

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this scale"
Z_ALPHA, Z_POWER = 1.96, 0.84  # two-sided 5 %, 80 % power


@dataclass
class Summary:
    """One arm's statistic on one (dataset, metric): mean (|mean| for signed metrics), half-width, n."""

    mean: float | None
    half_width: float | None
    n: int


@dataclass
class Comparison:
    """The mechanism arm against one other arm on one (dataset, metric)."""

    dataset: str
    metric: str
    other: str
    p: float | None
    effect: float | None  # statistic(mechanism) - statistic(other); better when its sign says so
    sd: float | None  # standard deviation of the per-image paired differences
    n: int
    higher_is_better: bool

    @property
    def better(self) -> bool:
        return self._significant() and (self.effect > 0) == self.higher_is_better

    @property
    def worse(self) -> bool:
        return self._significant() and (self.effect < 0) == self.higher_is_better

    def _significant(self) -> bool:
        return self.p is not None and self.p < ALPHA and self.effect is not None and self.effect != 0

    @property
    def n_needed(self) -> int | None:
        """Images that would detect ``effect`` at 80 % power, two-sided 5 % (None: no effect seen)."""
        return images_needed(self.effect, self.sd)


def images_needed(effect: float | None, sd: float | None) -> int | None:
    """n ≈ ((1.96 + 0.84) · sd / |effect|)², rounded up: the paired sample that detects a mean
    difference ``effect`` with per-image differences of standard deviation ``sd``."""
    if effect is None or sd is None or effect == 0 or not math.isfinite(effect):
        return None
    return max(2, math.ceil(((Z_ALPHA + Z_POWER) * sd / abs(effect)) ** 2))


def summarize(values: Mapping[str, float], absolute: bool = False) -> Summary:
    """Mean (|mean| with ``absolute``) and 95% t half-width of the finite values."""
    finite = [v for v in values.values() if math.isfinite(v)]
    if not finite:
        return Summary(None, None, 0)
    mean = sum(finite) / len(finite)
    return Summary(abs(mean) if absolute else mean, t_halfwidth(finite), len(finite))


def compare(mech: Mapping[str, float], other: Mapping[str, float], *, dataset: str, metric: str,
            other_name: str, higher_is_better: bool, absolute: bool = False) -> Comparison:
    """Paired bootstrap (fixed seed, the leaderboard's 2,000 resamples) over the images both
    arms scored, with the effect and the spread of the per-image differences."""
    a, b = aligned(mech, other)
    n = len(a)
    p = paired_bootstrap(a, b, absolute=absolute)
    if n == 0:
        return Comparison(dataset, metric, other_name, p, None, None, 0, higher_is_better)
    stat = (lambda x: abs(float(np.mean(x)))) if absolute else (lambda x: float(np.mean(x)))
    sd = float(np.std(a - b, ddof=1)) if n > 1 else None
    # a signed metric is compared by |mean|, where smaller is better whatever its spec says
    return Comparison(dataset, metric, other_name, p, stat(a) - stat(b), sd, n,
                      False if absolute else higher_is_better)


def verdict(cells: list[Comparison]) -> str:
    """The rule of the module docstring over the comparison cells of one claim."""
    better = sum(c.better for c in cells)
    worse = sum(c.worse for c in cells)
    if cells and better > len(cells) / 2 and worse == 0:
        return REPRODUCED
    if cells and (worse > len(cells) / 2 or (worse > 0 and better == 0)):
        return NOT_REPRODUCED
    return INCONCLUSIVE


def rule_text() -> str:
    """The verdict rule as the page states it."""
    return __doc__.split("Verdict rule (the page prints it): ", 1)[1].strip().replace("\n", " ")
