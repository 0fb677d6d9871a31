"""Risk odds: the closed-form touch probability against a seeded Monte Carlo, and the distances."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.prices import gbm_paths
from core.risk import (
    distance_in_sigma,
    distance_to_liquidation,
    liquidation_probability,
    normal_cdf,
    touch_probability,
)


def mc_touch(*, spot, barrier, sigma, mu, horizon, n_paths, n_steps, seed):
    """Continuous-monitoring touch probability by Monte Carlo, with the Brownian-bridge correction.

    Between two simulated log prices x0, x1 on the same side of the barrier a, the bridge of a
    Brownian motion with variance sigma^2 dt crosses a with probability
    exp(-2 (x0 - a)(x1 - a) / (sigma^2 dt)) (drift does not change the bridge). Each path's
    estimate 1 - prod(1 - p_k) (1 if a simulated point is past a) is unbiased for the continuous
    probability, so only the standard error separates it from the closed form.
    """
    dt = horizon / n_steps
    s = gbm_paths(s0=spot, mu=mu, sigma=sigma, dt=dt, n=n_steps, n_paths=n_paths, seed=seed)
    x = np.log(s / spot)
    a = math.log(barrier / spot)
    d = (x - a) if a < 0 else (a - x)  # distance to the barrier, positive on the safe side
    crossed = (d <= 0).any(axis=1)
    p = np.exp(-2.0 * np.clip(d[:, :-1], 0, None) * np.clip(d[:, 1:], 0, None) / (sigma * sigma * dt))
    est = np.where(crossed, 1.0, 1.0 - np.prod(1.0 - p, axis=1))
    return est.mean(), est.std(ddof=1) / math.sqrt(n_paths)


@pytest.mark.parametrize(("spot", "barrier", "sigma", "mu", "horizon"), [
    (68_000.0, 61_880.0, 0.8, 0.0, 7 / 365),    # the FAQ long's LP, one week at 80 % vol
    (68_000.0, 75_000.0, 0.6, 0.3, 30 / 365),   # a short's LP above, positive drift
    (100.0, 90.0, 0.5, -2.0, 0.1),              # strong downward drift
    (100.0, 120.0, 0.3, 0.0, 0.05),             # far barrier: a small probability
])
def test_closed_form_matches_seeded_monte_carlo(spot, barrier, sigma, mu, horizon):
    # 20,000 paths: the standard error of the mean is at most sqrt(0.25/20,000) = 0.0035 and is
    # measured from the sample; 4 standard errors (two-sided 6e-5 chance for a correct formula)
    # plus 1e-4 for the few-percent tails is the tolerance.
    closed = touch_probability(spot=spot, barrier=barrier, sigma=sigma, horizon=horizon, mu=mu)
    mc, se = mc_touch(spot=spot, barrier=barrier, sigma=sigma, mu=mu, horizon=horizon,
                      n_paths=20_000, n_steps=100, seed=2024)
    assert abs(closed - mc) <= 4 * se + 1e-4, (closed, mc, se)


def test_discrete_monitoring_sees_fewer_touches():
    # without the bridge correction a 100-step grid misses crossings between the steps: the raw
    # fraction of paths touching is below the continuous formula (Broadie-Glasserman-Kou)
    closed = touch_probability(spot=68_000, barrier=61_880, sigma=0.8, horizon=7 / 365)
    s = gbm_paths(s0=68_000, mu=0.0, sigma=0.8, dt=7 / 365 / 100, n=100, n_paths=20_000, seed=7)
    raw = (s.min(axis=1) <= 61_880).mean()
    assert raw < closed


def test_golden_values():
    # driftless log price (mu = sigma^2/2): 2 Phi(ln 0.5) = 2 x 0.244109 = 0.488217
    assert touch_probability(spot=100, barrier=50, sigma=1.0, horizon=1.0, mu=0.5) == pytest.approx(0.488217, abs=1e-6)
    # the same by symmetry for the barrier 200 above 100 with nu = 0: 2 Phi(-ln 2) again
    assert touch_probability(spot=100, barrier=200, sigma=1.0, horizon=1.0, mu=0.5) == pytest.approx(0.488217, abs=1e-6)
    # Phi at known points: Phi(0) = 0.5, Phi(-1.959964) = 0.025
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(-1.959964) == pytest.approx(0.025, abs=1e-7)


def test_liquidation_probability_edges():
    # already past the LP (long, mark below) -> 1; no LP -> 0; zero horizon -> 0
    assert liquidation_probability(side=1, mark=60_000, liquidation_price=61_880, sigma=0.8, horizon=0.1) == 1.0
    assert liquidation_probability(side=-1, mark=70_000, liquidation_price=69_000, sigma=0.8, horizon=0.1) == 1.0
    assert liquidation_probability(side=1, mark=68_000, liquidation_price=math.nan, sigma=0.8, horizon=0.1) == 0.0
    assert liquidation_probability(side=1, mark=68_000, liquidation_price=61_880, sigma=0.8, horizon=0.0) == 0.0
    # sigma 0: a deterministic path; with drift -1/yr the log price falls 0.1 in 0.1 yr, past
    # ln(0.91) = -0.0943 -> 1; with no drift (nu = 0) it never moves -> 0
    assert touch_probability(spot=68_000, barrier=61_880, sigma=0.0, horizon=0.1, mu=-1.0) == 1.0
    assert touch_probability(spot=68_000, barrier=61_880, sigma=0.0, horizon=0.1, mu=0.0) == 0.0


def test_broadcasting_equals_elementwise():
    marks = np.array([68_000.0, 65_000.0, 63_000.0])
    horizons = np.array([[1 / 365], [7 / 365], [30 / 365]])
    grid = liquidation_probability(side=1, mark=marks, liquidation_price=61_880, sigma=0.8, horizon=horizons)
    assert grid.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert grid[i, j] == liquidation_probability(side=1, mark=float(marks[j]), liquidation_price=61_880,
                                                         sigma=0.8, horizon=float(horizons[i, 0]))
    # more time, more risk; closer mark, more risk
    assert np.all(np.diff(grid, axis=0) > 0)
    assert np.all(np.diff(grid, axis=1) > 0)


def test_extreme_inputs_stay_in_range():
    with np.errstate(all="raise"):
        p = touch_probability(spot=100, barrier=np.array([1e-6, 50, 99.999, 100.001, 1e6]), sigma=0.05,
                              horizon=np.array([1e-9, 1.0, 100.0])[:, None], mu=np.array([-50.0, 0.0, 50.0])[:, None])
    assert np.all((p >= 0) & (p <= 1))
    assert not np.any(np.isnan(p))


def test_distances():
    # (68,000 - 61,880)/68,000 = 9 %; short mirrors it
    assert distance_to_liquidation(side=1, mark=68_000, liquidation_price=61_880) == pytest.approx(0.09)
    assert distance_to_liquidation(side=-1, mark=68_000, liquidation_price=74_120) == pytest.approx(0.09)
    assert math.isnan(distance_to_liquidation(side=1, mark=68_000, liquidation_price=math.nan))
    # ln(68,000/61,880) = ln(1/0.91) = 0.0943107 over 0.8 sqrt(7/365) = 0.8 x 0.1384852 = 0.1107882
    # -> 0.851272 sigma
    assert distance_in_sigma(side=1, mark=68_000, liquidation_price=61_880, sigma=0.8,
                             horizon=7 / 365) == pytest.approx(0.851272, abs=2e-6)
    # past the LP: negative
    assert distance_in_sigma(side=1, mark=60_000, liquidation_price=61_880, sigma=0.8, horizon=0.1) < 0
