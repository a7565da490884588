"""Maximum likelihood from several starts, shared by the purchase models (analytics.bgnbd, analytics.gamma_gamma).

The likelihoods have flat ridges where one start can stall, so every start gets a short run and the best one
runs on to convergence: robust as running each start to the end, at a third of the work (measured on a million
customers, bench/models.py: 12.9 s -> see the note of the commit that brought it).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

SCOUT_ITERATIONS = 15
TOLERANCES = {"ftol": 1e-13, "gtol": 1e-8}


def best_of_starts(objective, starts, bounds):
    """L-BFGS-B on `objective` (value and gradient) from each start for SCOUT_ITERATIONS, then the best onwards.
    Returns scipy's OptimizeResult of the final run, or None when no start gave a finite value."""
    scouts = []
    for start in starts:
        result = optimize.minimize(objective, np.asarray(start, dtype=float), jac=True, method="L-BFGS-B",
                                   bounds=bounds, options={"maxiter": SCOUT_ITERATIONS, **TOLERANCES})  # fmt: skip
        if np.isfinite(result.fun):
            scouts.append(result)
    if not scouts:
        return None
    best = min(scouts, key=lambda result: result.fun)
    if best.success:
        return best
    return optimize.minimize(objective, best.x, jac=True, method="L-BFGS-B", bounds=bounds,
                             options={"maxiter": 500, **TOLERANCES})  # fmt: skip


def at_bound(x, bounds) -> bool:
    return any(abs(v - lo) < 1e-6 or abs(v - hi) < 1e-6 for v, (lo, hi) in zip(x, bounds, strict=True))


def std_errors(gradient, params, names) -> dict[str, float]:
    """Standard errors from the observed information: the Hessian of the log-likelihood by central differences of
    its analytic `gradient`, inverted, square roots of the diagonal (NaN where the curvature is not negative)."""
    params = np.asarray(params, dtype=float)
    k = len(params)
    hessian = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        hessian[:, i] = (gradient(up) - gradient(down)) / (2 * step)
    try:
        covariance = np.linalg.inv(-(hessian + hessian.T) / 2)
    except np.linalg.LinAlgError:
        return {}
    return {
        name: float(np.sqrt(v)) if v > 0 else float("nan") for name, v in zip(names, np.diag(covariance), strict=True)
    }
