"""Gamma-Gamma: what a customer spends per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

A customer's purchase amounts vary around their own mean; the amounts are gamma(p, nu) with nu gamma(q, gamma)
across customers. Only the number x of repeat purchases and their average amount m_x enter. The model assumes
spend does not depend on how often one buys (the page shows the correlation, so a manager can check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from analytics import mle

NAMES = ("p", "q", "gamma")
LOG_BOUNDS = ((-7.0, 7.0), (-7.0, 7.0), (-7.0, 16.0))
STARTS = ((0.0, 0.0, 0.0), (1.5, 1.0, 3.0), (0.5, 1.5, 5.0))


@dataclass(frozen=True)
class Fit:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    message: str
    std_errors: dict[str, float]

    @property
    def params(self) -> tuple[float, float, float]:
        return self.p, self.q, self.gamma


def _checked(x, m_x) -> tuple[np.ndarray, np.ndarray]:
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    if x.shape != m_x.shape or (x < 1).any() or (m_x <= 0).any():
        raise ValueError("need x >= 1 repeat purchases and an average amount m_x > 0 for every customer")
    return x, m_x


def levels(x) -> tuple[np.ndarray, np.ndarray]:
    """The distinct purchase counts and each customer's index into them: the gamma functions of p x depend on x
    alone, which takes a few dozen values over a million customers (computed per value: bench/models.py)."""
    values, index = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    return values, index.ravel()


def log_likelihood(params, x, m_x, by_x=None) -> float:
    """Sum over customers of ln f(m_x | p, q, gamma, x) (equation 4 of the 2013 note)."""
    p, q, gamma = params
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    values, index = by_x or levels(x)
    g = special.gammaln
    of_x = (g(p * values + q) - g(p * values))[index]
    px = p * x
    each = (
        of_x - g(q) + q * np.log(gamma)
        + (px - 1) * np.log(m_x) + px * np.log(x) - (px + q) * np.log(gamma + m_x * x)
    )  # fmt: skip
    return float(each.sum())


def gradient(params, x, m_x, by_x=None) -> np.ndarray:
    p, q, gamma = params
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    values, index = by_x or levels(x)
    psi = special.digamma
    both = psi(p * values + q)[index]
    px = p * x
    spent = gamma + m_x * x
    d_p = x * (both - psi(p * values)[index] + np.log(m_x) + np.log(x) - np.log(spent))
    d_q = both - psi(q) + np.log(gamma) - np.log(spent)
    d_gamma = q / gamma - (px + q) / spent
    return np.array([d_p.sum(), d_q.sum(), d_gamma.sum()])


def fit(x, m_x, starts=STARTS) -> Fit:
    """Maximum likelihood in log-parameters with the analytic gradient, best of several starts, as bgnbd.fit."""
    x, m_x = _checked(x, m_x)
    n = len(x)
    # Amounts are in currency units that may be large: start gamma where the data's scale is.
    scale = float(np.log(np.median(m_x)))

    by_x = levels(x)

    def objective(theta):
        params = np.exp(theta)
        value = log_likelihood(params, x, m_x, by_x)
        if not np.isfinite(value):
            return np.inf, np.zeros(3)
        return -value / n, -gradient(params, x, m_x, by_x) * params / n

    best = mle.best_of_starts(
        objective, [np.array(start) + np.array([0.0, 0.0, scale]) for start in starts], LOG_BOUNDS
    )
    if best is None:
        return Fit(*(float("nan"),) * 4, False, "no start gave a finite likelihood", {})
    params = np.exp(best.x)
    at_bound = mle.at_bound(best.x, LOG_BOUNDS)
    converged = bool(best.success and not at_bound and params[1] > 1)
    message = (
        "a parameter reached its bound" if at_bound
        else "q <= 1: the mean spend is not finite" if params[1] <= 1
        else str(best.message)
    )  # fmt: skip
    return Fit(
        *map(float, params),
        log_likelihood(params, x, m_x),
        converged,
        message,
        mle.std_errors(lambda p: gradient(p, x, m_x), params, NAMES),
    )


def expected_spend(params, x, m_x) -> np.ndarray:
    """E[spend per purchase | x, m_x] (equation 5): a weighted mean of the population mean gamma p / (q - 1) and
    the customer's own average, the weight on their own growing with their repeat purchases. x = 0 gives the
    population mean."""
    p, q, gamma = params
    x = np.asarray(x, dtype=float)
    m_x = np.where(x > 0, np.asarray(m_x, dtype=float), 0.0)
    return (gamma + m_x * x) * p / (p * x + q - 1)


def simulate(params, x, rng: np.random.Generator) -> np.ndarray:
    """Average amounts m_x for customers with x purchases each, from the model's own process."""
    p, q, gamma = params
    x = np.asarray(x, dtype=int)
    nu = rng.gamma(q, 1 / gamma, len(x))
    # The sum of x gamma(p, nu) amounts is gamma(p x, nu).
    return rng.gamma(p * x, 1 / nu) / x
