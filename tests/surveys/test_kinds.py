"""Survey kinds: scales and classes as DOMAIN.md defines them, and each metric's interval against SciPy or the
closed form computed independently here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from surveys.kinds import CES, CHURN, CSAT, KINDS, NPS, mean_estimate, nps_estimate, share_estimate, wilson
from surveys.models import nps_class


def test_classes_cover_each_scale_once():
    assert [NPS.classify(s) for s in NPS.scale] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert [CSAT.classify(s) for s in CSAT.scale] == ["dissatisfied"] * 2 + ["neutral"] + ["satisfied"] * 2
    assert [CES.classify(s) for s in CES.scale] == ["hard"] * 3 + ["neutral"] + ["easy"] * 3
    assert CHURN.scale == range(0) and CHURN.classify(None) is None
    for kind in (NPS, CSAT, CES):
        with pytest.raises(ValueError):
            kind.classify(kind.high + 1)
    assert set(KINDS) == {"nps", "csat", "ces", "churn"}
    assert [nps_class(s) for s in range(11)] == [NPS.classify(s) for s in range(11)]  # one definition
    assert CSAT.counts([5, 4, 3, 1, 1]) == {"satisfied": 2, "neutral": 1, "dissatisfied": 2}


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 10), (10, 10), (412, 1000), (1, 1)])
def test_csat_share_interval_is_scipys_wilson(k, n):
    reference = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    estimate = share_estimate(k, n)
    assert estimate.value == pytest.approx(100 * k / n)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((100 * reference.low, 100 * reference.high), abs=1e-9)
    assert wilson(k, n) == pytest.approx((reference.low, reference.high), abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ces_mean_interval_is_scipys_t_interval(seed):
    scores = np.random.default_rng(seed).integers(1, 8, 57).astype(float)
    estimate = mean_estimate(scores.sum(), (scores**2).sum(), len(scores))
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
    assert (estimate.value, estimate.ci_low, estimate.ci_high) == pytest.approx((scores.mean(), low, high), rel=1e-9)
    assert mean_estimate(6.0, 36.0, 1).ci_low is None and mean_estimate(0, 0, 0).value is None


def test_nps_interval_is_the_adjusted_wald_of_rocks_2016():
    """Written out independently: 120 promoters, 50 passives, 30 detractors."""
    p, d, n = (120 + 0.75) / 203, (30 + 0.75) / 203, 203
    se = math.sqrt((p + d - (p - d) ** 2) / n)
    estimate = nps_estimate(120, 50, 30)
    assert estimate.value == pytest.approx(45.0)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(
        (100 * (p - d - 1.959964 * se), 100 * (p - d + 1.959964 * se)), abs=1e-4
    )
    everyone = nps_estimate(5, 0, 0)
    assert everyone.value == 100 and everyone.ci_high == 100 and everyone.ci_low < 100  # clipped, still honest
    assert nps_estimate(0, 0, 0).value is None
