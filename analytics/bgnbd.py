"""BG/NBD: who is still buying, and how much (Fader, Hardie & Lee 2005, "Counting your customers the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284).

While alive, a customer buys at a Poisson rate lambda, gamma-distributed across customers (shape r, rate alpha);
after every purchase the customer drops out with probability p, beta-distributed across customers (a, b). Per
customer the model needs three numbers: x repeat purchases, the time t_x of the last one and the age T, both
counted from the first purchase. Time here is in days; alpha is "per day" (alpha per week = alpha per day / 7).

Pure NumPy/SciPy on arrays, so the same functions serve a test with five customers and a fit on a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from analytics import mle

NAMES = ("r", "alpha", "a", "b")
# log-parameter bounds: wide enough for a day or a week as time unit, narrow enough that exp() stays finite.
LOG_BOUNDS = ((-9.0, 9.0), (-9.0, 14.0), (-9.0, 9.0), (-9.0, 9.0))
# Starting points in log space; the fit keeps the best of them (the likelihood has flat ridges, one start can stall).
STARTS = ((0.0, 0.0, 0.0, 0.0), (-1.0, 3.0, -0.5, 1.0), (0.5, 5.0, 1.0, 2.0), (-1.5, 2.0, 0.5, 0.5))


def unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows of equal values: the index of each distinct row's first occurrence, and each row's group number.
    Whole-number columns (day counts) are packed into one integer key, as np.unique over rows (axis=0) took 2 s for
    a million customers and one over integers takes 0.1 s (bench/models.py)."""
    whole = all(np.array_equal(c, np.round(c)) and (c >= 0).all() for c in columns)
    if whole and columns and max(float(c.max(initial=0)) for c in columns) < 2**20:
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for column in columns:
            key = key * 2**20 + column.astype(np.int64)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(np.column_stack(columns), axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


@dataclass(frozen=True)
class Summary:
    """Per customer (or per group of identical customers with ``weight``): x, t_x, T."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, x, t_x, T, weight=None) -> Summary:
        """Checks the data once, so the likelihood never meets an impossible customer."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        weight = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
        if x.shape != t_x.shape or x.shape != T.shape or x.shape != weight.shape:
            raise ValueError("x, t_x, T and weight must have the same length")
        if (x < 0).any() or (t_x < 0).any() or (t_x > T).any() or ((x == 0) & (t_x != 0)).any():
            raise ValueError("need x >= 0, 0 <= t_x <= T, and t_x = 0 when x = 0")
        return cls(x, t_x, T, weight)

    def grouped(self) -> Summary:
        """Identical (x, t_x, T) rows merged: day-level data repeats a lot, and the likelihood is a weighted sum."""
        first, inverse = unique_rows(self.x, self.t_x, self.T)
        weight = np.bincount(inverse, weights=self.weight, minlength=len(first))
        return Summary(self.x[first], self.t_x[first], self.T[first], weight)

    @property
    def customers(self) -> int:
        return int(self.weight.sum())

    @cached_property
    def x_levels(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct x and each row's index into them: x takes a few dozen values over a million customers,
        so the special functions of x are computed per value, not per row (a fit 3x faster, bench/models.py)."""
        values, index = np.unique(self.x, return_inverse=True)
        return values, index.ravel()

    def by_x(self, fn) -> np.ndarray:
        """fn over the distinct x, spread back to the rows."""
        values, index = self.x_levels
        return np.asarray(fn(values))[index]


@dataclass(frozen=True)
class Fit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    message: str
    std_errors: dict[str, float]

    @property
    def params(self) -> tuple[float, float, float, float]:
        return self.r, self.alpha, self.a, self.b


def _terms(params, s: Summary):
    """The pieces the log-likelihood and its gradient share. With D = ln a - ln(b+x-1) + (r+x) ln((alpha+T) /
    (alpha+t_x)) for x > 0, the likelihood is the "still alive" term times (1 + e^D): no overflow for large x."""
    r, alpha, a, b = params
    x, t_x, T = s.x, s.t_x, s.T
    repeat = x > 0
    log_ratio = np.log(alpha + T) - np.log(alpha + t_x)
    bx1 = s.by_x(lambda v: np.where(v > 0, b + v - 1, 1.0))
    D = np.where(repeat, np.log(a) - s.by_x(lambda v: np.log(np.where(v > 0, b + v - 1, 1.0))) + (r + x) * log_ratio,
                 -np.inf)  # fmt: skip
    return r, alpha, a, b, x, T, repeat, log_ratio, bx1, D


def log_likelihood_each(params, s: Summary) -> np.ndarray:
    """Each row's log-likelihood (equation 6 of the paper, rearranged)."""
    r, alpha, a, b, x, T, repeat, _, _, D = _terms(params, s)
    g = special.gammaln
    of_x = s.by_x(lambda v: g(r + v) + g(b + v) - g(a + b + v))
    return (
        of_x - g(r) + r * np.log(alpha) - g(b) + g(a + b)
        - (r + x) * np.log(alpha + T)
        + np.logaddexp(0.0, D)
    )  # fmt: skip


def log_likelihood(params, s: Summary) -> float:
    return float(np.dot(s.weight, log_likelihood_each(params, s)))


def gradient(params, s: Summary) -> np.ndarray:
    """Analytic gradient of the log-likelihood in (r, alpha, a, b): checked against finite differences in the
    tests; it makes a million-customer fit a few dozen vectorised passes instead of hundreds."""
    r, alpha, a, b, x, T, repeat, log_ratio, bx1, D = _terms(params, s)
    w = s.weight
    sig = np.where(repeat, special.expit(D), 0.0)  # the weight of the "dropped out after t_x" term
    psi = special.digamma
    psi_abx = s.by_x(lambda v: psi(a + b + v))
    d_r = s.by_x(lambda v: psi(r + v)) - psi(r) + np.log(alpha) - np.log(alpha + T) + sig * log_ratio
    d_alpha = r / alpha - (r + x) / (alpha + T) + sig * (r + x) * (1 / (alpha + T) - 1 / (alpha + s.t_x))
    d_a = psi(a + b) - psi_abx + sig / a
    d_b = s.by_x(lambda v: psi(b + v)) - psi_abx - psi(b) + psi(a + b) - sig / bx1
    return np.array([np.dot(w, d) for d in (d_r, d_alpha, d_a, d_b)])


def fit(s: Summary, starts=STARTS) -> Fit:
    """Maximum likelihood in log-parameters (positive by construction) with L-BFGS-B and the analytic gradient,
    from several starts; the best converged result wins. Standard errors from the observed information
    (the Hessian of the gradient by central differences), by the delta method on the natural scale."""
    s = s.grouped()
    n = s.weight.sum()

    def objective(theta):
        params = np.exp(theta)
        value = log_likelihood(params, s)
        grad = gradient(params, s) * params  # chain rule: d/d(ln p) = p d/dp
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        return -value / n, -grad / n

    best = mle.best_of_starts(objective, starts, LOG_BOUNDS)
    if best is None:
        return Fit(*(float("nan"),) * 5, False, "no start gave a finite likelihood", {})
    params = np.exp(best.x)
    at_bound = mle.at_bound(best.x, LOG_BOUNDS)
    converged = bool(best.success) and not at_bound
    message = "a parameter reached its bound" if at_bound else str(best.message)
    errors = mle.std_errors(lambda p: gradient(p, s), params, NAMES)
    return Fit(*map(float, params), log_likelihood(params, s), converged, message, errors)


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(still alive | x, t_x, T) (Fader, Hardie & Lee 2008, "Computing P(alive) using the BG/NBD model"):
    1 / (1 + e^D) for repeat buyers; 1 for customers without a repeat purchase (the model lets them drop out
    only after a purchase)."""
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    s = Summary.of(x.ravel(), t_x.ravel(), T.ravel())
    *_, D = _terms(params, s)
    return special.expit(-D).reshape(x.shape)


def expected_purchases(params, t) -> np.ndarray:
    """E[X(t)]: repeat purchases a new customer makes in their first t days (equation 7)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))


def conditional_expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: purchases in the next t days of a customer with this history (equation 10)."""
    r, alpha, a, b = params
    x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return head * p_alive(params, x, t_x, T)


def simulate(params, T, rng: np.random.Generator) -> Summary:
    """Draws (x, t_x) for customers of ages T from the model's own process: lambda ~ Gamma(r, rate alpha),
    p ~ Beta(a, b); purchases at rate lambda, a coin with p after each one decides dropout."""
    r, alpha, a, b = params
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1 / lam[idx])
        bought = now[idx] <= T[idx]
        done = idx[~bought]
        alive[done] = False
        got = idx[bought]
        x[got] += 1
        t_x[got] = now[got]
        alive[got[rng.random(len(got)) < p[got]]] = False
    return Summary.of(x, t_x, T)
