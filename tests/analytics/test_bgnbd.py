"""BG/NBD and Gamma-Gamma against independent computations: the paper's formulas as written, numerical
integration over the individual-level model, finite differences, simulation from the models' own process, and
the published CDNOW figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from analytics import bgnbd
from analytics import gamma_gamma as gg

# Fader, Hardie & Lee (2005), CDNOW sample, time in weeks.
CDNOW = (0.243, 4.414, 0.793, 2.426)


def test_log_likelihood_is_the_papers_equation_6():
    r, alpha, a, b = 0.5, 12.0, 0.9, 2.2
    x, t_x, T = np.array([0, 1, 4, 12]), np.array([0, 30.0, 80.0, 300.0]), np.array([50.0, 90.0, 200.0, 310.0])
    s = bgnbd.Summary.of(x, t_x, T)
    B = special.beta
    for i in range(4):
        first = (
            B(a, b + x[i])
            / B(a, b)
            * special.gamma(r + x[i])
            * alpha**r
            / (special.gamma(r) * (alpha + T[i]) ** (r + x[i]))
        )
        second = (
            (x[i] > 0)
            * B(a + 1, b + x[i] - 1)
            / B(a, b)
            * special.gamma(r + x[i])
            * alpha**r
            / (special.gamma(r) * (alpha + t_x[i]) ** (r + x[i]))
        )
        assert bgnbd.log_likelihood_each((r, alpha, a, b), s)[i] == pytest.approx(np.log(first + second), rel=1e-10)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    s = bgnbd.simulate((0.6, 15.0, 0.7, 3.0), rng.uniform(10, 400, 500), rng)
    point = np.array([0.5, 20.0, 0.9, 2.5])
    numeric = optimize.approx_fprime(point, lambda p: bgnbd.log_likelihood(p, s), 1e-7 * point)
    assert bgnbd.gradient(point, s) == pytest.approx(numeric, rel=1e-4)

    x = rng.integers(1, 8, 300)
    m_x = gg.simulate((5.0, 3.0, 20.0), x, rng)
    point = np.array([4.0, 2.5, 25.0])
    numeric = optimize.approx_fprime(point, lambda p: gg.log_likelihood(p, x, m_x), 1e-7 * point)
    assert gg.gradient(point, x, m_x) == pytest.approx(numeric, rel=1e-4)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 30.0), (2, 30.43, 38.86), (7, 20.0, 38.0), (1, 2.0, 35.0)])
def test_p_alive_matches_integration_over_the_individual_model(x, t_x, T):
    """Section 3's individual-level likelihood split into "alive at T", (1-p)^x lambda^x e^(-lambda T), and
    "dropped out after t_x", p (1-p)^(x-1) lambda^x e^(-lambda t_x); lambda integrated numerically over its
    gamma density, p over its beta density with Beta-function moments."""
    r, alpha, a, b = CDNOW
    moment = lambda k, m: special.beta(a + k, b + m) / special.beta(a, b)  # noqa: E731  E[p^k (1-p)^m]
    density = lambda lam: stats.gamma.pdf(lam, r, scale=1 / alpha)  # noqa: E731

    def over_lambda(until):
        return integrate.quad(lambda lam: lam**x * np.exp(-lam * until) * density(lam), 0, np.inf, epsabs=1e-14)[0]

    alive = moment(0, x) * over_lambda(T)
    gone = moment(1, x - 1) * over_lambda(t_x) if x > 0 else 0.0
    assert bgnbd.p_alive(CDNOW, [x], [t_x], [T])[0] == pytest.approx(alive / (alive + gone), rel=1e-6)


def test_published_conditional_expectation():
    # FHL 2005, section 5: x = 2, t_x = 30.43, T = 38.86 weeks; 1.226 purchases expected in the next 39 weeks.
    assert bgnbd.conditional_expected_purchases(CDNOW, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_expected_purchases_match_simulation():
    rng = np.random.default_rng(11)
    params = (0.8, 40.0, 0.6, 2.0)
    simulated = bgnbd.simulate(params, np.full(200_000, 365.0), rng).x
    standard_error = simulated.std() / np.sqrt(len(simulated))
    assert bgnbd.expected_purchases(params, 365.0) == pytest.approx(simulated.mean(), abs=3 * standard_error)


def test_conditional_expectation_averages_to_the_unconditional_one():
    """Equation 10 against equation 7: over customers whose first 200 days come from the model, the mean of
    E[Y(90) | history] must equal E[X(290)] - E[X(200)]."""
    params = (0.8, 40.0, 0.6, 2.0)
    first = bgnbd.simulate(params, np.full(300_000, 200.0), np.random.default_rng(6))
    conditional = bgnbd.conditional_expected_purchases(params, 90, first.x, first.t_x, first.T)
    increment = bgnbd.expected_purchases(params, 290.0) - bgnbd.expected_purchases(params, 200.0)
    standard_error = conditional.std() / np.sqrt(len(conditional))
    assert conditional.mean() == pytest.approx(float(increment), abs=3 * standard_error)


def test_parameters_recovered_from_their_own_process():
    rng = np.random.default_rng(2026)
    true = (0.45, 25.0, 0.8, 2.6)
    s = bgnbd.simulate(true, rng.integers(30, 730, 30_000).astype(float), rng)
    fit = bgnbd.fit(s)
    assert fit.converged
    for name, value in zip(bgnbd.NAMES, true, strict=True):
        assert abs(getattr(fit, name) - value) < 3 * fit.std_errors[name], name

    x = rng.integers(1, 12, 8000)
    true_spend = (6.0, 4.0, 15.0)
    spend = gg.fit(x, gg.simulate(true_spend, x, rng))
    assert spend.converged
    for name, value in zip(gg.NAMES, true_spend, strict=True):
        assert abs(getattr(spend, name) - value) < 3 * spend.std_errors[name], name


def test_gamma_gamma_density_is_the_mixture_it_claims():
    """f(m_x | p, q, gamma, x) against integrating the gamma(p x, nu x) density of the average over nu."""
    p, q, gamma = 6.25, 3.74, 15.44
    for x, m_x in ((1, 20.0), (3, 35.5), (8, 12.0)):
        mixture = integrate.quad(
            lambda nu, x=x, m_x=m_x: (
                stats.gamma.pdf(m_x, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / gamma)
            ),
            0,
            np.inf,
            epsabs=1e-15,
        )[0]
        assert gg.log_likelihood((p, q, gamma), [x], [m_x]) == pytest.approx(np.log(mixture), rel=1e-7)


def test_expected_spend_is_the_posterior_mean():
    p, q, gamma = 6.25, 3.74, 15.44
    population = gamma * p / (q - 1)
    assert gg.expected_spend((p, q, gamma), 0, 0.0) == pytest.approx(population)
    x, m_x = 4, 50.0
    weight = p * x / (p * x + q - 1)
    assert gg.expected_spend((p, q, gamma), x, m_x) == pytest.approx(weight * m_x + (1 - weight) * population)


def test_impossible_customers_are_refused():
    with pytest.raises(ValueError):
        bgnbd.Summary.of([1], [40.0], [30.0])  # last purchase after the end
    with pytest.raises(ValueError):
        bgnbd.Summary.of([0], [5.0], [30.0])
    with pytest.raises(ValueError):
        gg.fit([0, 2], [10.0, 12.0])
    with pytest.raises(ValueError):
        gg.fit([1, 2], [0.0, 12.0])


def test_cdnow_published_estimates_from_raw_transactions(cdnow_elog):
    """FHL 2005 table and the Gamma-Gamma note: the CDNOW 1/10 sample (2,357 customers), calibration
    1997-01-01 to 1997-09-30, from the raw event log; same-day purchases are one purchase day."""
    import csv
    from datetime import date, datetime

    end = date(1997, 9, 30)
    days: dict[str, dict[date, float]] = {}
    with open(cdnow_elog, newline="") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["date"], "%Y%m%d").date()
            if day <= end:
                spent = days.setdefault(row["masterid"], {})
                spent[day] = spent.get(day, 0.0) + float(row["sales"])
    x, t_x, T, repeat_x, m_x = [], [], [], [], []
    for spent in days.values():
        ordered = sorted(spent)
        x.append(len(ordered) - 1)
        t_x.append((ordered[-1] - ordered[0]).days)
        T.append((end - ordered[0]).days)
        if len(ordered) > 1:
            repeat_x.append(len(ordered) - 1)
            m_x.append(sum(spent[d] for d in ordered[1:]) / (len(ordered) - 1))
    assert len(x) == 2357
    fit = bgnbd.fit(bgnbd.Summary.of(x, t_x, T))  # in days
    assert fit.converged
    weekly_log_likelihood = fit.log_likelihood + sum(x) * np.log(7)  # densities per day -> per week
    assert (fit.r, fit.alpha / 7, fit.a, fit.b) == pytest.approx(CDNOW, rel=5e-3)
    assert weekly_log_likelihood == pytest.approx(-9582.4, abs=0.05)
    spend = gg.fit(repeat_x, m_x)
    assert len(repeat_x) == 946
    assert spend.params == pytest.approx((6.25, 3.74, 15.44), rel=5e-3)
