"""Risk odds: how far the liquidation price is, and the chance the mark touches it within a horizon.

Under geometric Brownian motion ``dS = mu S dt + sigma S dW`` the log price ``X_t = ln(S_t/S_0)`` is
a Brownian motion with drift ``nu = mu - sigma**2/2``. The reflection principle with drift gives the
probability that its running minimum reaches ``a = ln(b/S_0) < 0`` by time ``T`` (a long's
liquidation price ``b`` below the mark)::

    P(min X <= a) = Phi((a - nu T) / (sigma sqrt T)) + exp(2 nu a / sigma**2) Phi((a + nu T) / (sigma sqrt T))

and for a barrier above (a short), by the symmetry ``X -> -X``::

    P(max X >= a) = Phi((-a + nu T) / (sigma sqrt T)) + exp(2 nu a / sigma**2) Phi((-a - nu T) / (sigma sqrt T))

Every function broadcasts its inputs (numpy-financial style) and returns a float for scalar input.
``sigma``, ``mu`` and ``horizon`` share one time unit (annualised figures with a horizon in years;
:data:`core.prices.SECONDS_PER_YEAR` converts seconds). A NaN liquidation price means "none": the
probability is 0 and the distances are NaN.

References
----------
Shreve, *Stochastic Calculus for Finance II*, §7.2 (first passage of drifted Brownian motion).
Broadie, Glasserman, Kou (1997): discrete monitoring sees fewer touches than the continuous formula;
the Monte Carlo check in the tests uses the Brownian-bridge correction, which is unbiased.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from core.margin import _out, side_sign

ArrayLike = npt.ArrayLike

_erfc = np.frompyfunc(math.erfc, 1, 1)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def normal_cdf(x: ArrayLike) -> Any:
    """Standard normal distribution function, exact to double precision (``math.erfc``).

    >>> round(normal_cdf(-1.0), 6)
    0.158655
    """
    # beyond |x| = 37 the answer is 0 or 1 to double precision; clipping keeps erfc from underflowing
    z = np.clip(np.asarray(x, dtype=float), -37.0, 37.0)
    return _out(0.5 * np.asarray(_erfc(-z / math.sqrt(2.0)), dtype=float))


def _log_normal_cdf(x: Any) -> Any:
    """``log Phi(x)``, with the asymptotic series far in the left tail where erfc underflows."""
    x = np.asarray(x, dtype=float)
    safe = np.maximum(x, -30.0)
    near = np.log(np.maximum(0.5 * np.asarray(_erfc(-safe / math.sqrt(2.0)), dtype=float), 1e-300))
    xt = np.minimum(x, -30.0)
    tail = -0.5 * xt * xt - np.log(-xt) - _LOG_SQRT_2PI + np.log1p(-1.0 / (xt * xt))
    return np.where(x > -30.0, near, tail)


def touch_probability(*, spot: ArrayLike, barrier: ArrayLike, sigma: ArrayLike, horizon: ArrayLike,
                      mu: ArrayLike = 0.0) -> Any:
    """Probability that a GBM started at ``spot`` touches ``barrier`` within ``horizon``.

    The barrier's side is read from its position: below ``spot`` it is reached from above, above
    ``spot`` from below; a barrier equal to ``spot`` is touched at once (1). NaN barrier -> 0.

    Parameters
    ----------
    spot : current price, > 0.
    barrier : the price to touch, > 0 (NaN: none).
    sigma : volatility per unit time, >= 0.
    horizon : time, >= 0, in the unit of ``sigma`` and ``mu``.
    mu : drift of the price per unit time (``E[S_T] = S_0 e^(mu T)``).

    Examples
    --------
    Driftless log price (``mu = sigma**2 / 2``, so ``nu = 0``): the reflection principle alone gives
    ``2 Phi(a / (sigma sqrt T))``; halving from 100 to 50 at sigma 1 within T = 1:
    ``2 Phi(ln 0.5) = 2 Phi(-0.693147) = 2 x 0.244109 = 0.488217``.

    >>> round(touch_probability(spot=100, barrier=50, sigma=1.0, horizon=1.0, mu=0.5), 6)
    0.488217
    """
    s0 = np.asarray(spot, dtype=float)
    b = np.asarray(barrier, dtype=float)
    sig = np.asarray(sigma, dtype=float)
    t = np.asarray(horizon, dtype=float)
    m = np.asarray(mu, dtype=float)
    s0, b, sig, t, m = np.broadcast_arrays(s0, b, sig, t, m)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        a = np.log(b / s0)
        nu = m - 0.5 * sig * sig
        down = a < 0
        # the symmetry X -> -X turns an upper barrier into a lower one with the drift reversed
        a_d = np.where(down, a, -a)
        nu_d = np.where(down, nu, -nu)
        sd = sig * np.sqrt(t)
        sd_safe = np.where(sd > 0, sd, 1.0)
        sig2 = np.where(sig > 0, sig * sig, 1.0)
        term1 = normal_cdf((a_d - nu_d * t) / sd_safe)
        log_term2 = 2.0 * nu_d * a_d / sig2 + _log_normal_cdf((a_d + nu_d * t) / sd_safe)
        p = np.clip(np.asarray(term1) + np.exp(np.minimum(log_term2, 0.0)), 0.0, 1.0)
        # sigma = 0 or T = 0: the deterministic path X_t = nu t reaches a_d < 0 only if nu_d T <= a_d
        p = np.where(sd > 0, p, np.where(nu_d * t <= a_d, 1.0, 0.0))
        p = np.where(a == 0, 1.0, p)
        p = np.where(np.isnan(b), 0.0, p)
    return _out(p)


def liquidation_probability(*, side: ArrayLike, mark: ArrayLike, liquidation_price: ArrayLike,
                            sigma: ArrayLike, horizon: ArrayLike, mu: ArrayLike = 0.0) -> Any:
    """Chance that the mark touches the liquidation price within ``horizon`` (GBM, closed form).

    A long whose mark is already at or below its liquidation price (a short: at or above) is 1; no
    liquidation price (NaN) is 0.

    Examples
    --------
    The FAQ position (LP 61,880) at mark 68,000, 80 % annual volatility, no drift, one week:
    ``a = ln(61,880/68,000) = -0.094311``, ``sigma sqrt T = 0.8 sqrt(7/365) = 0.110789``,
    ``nu T = -0.32 x 7/365 = -0.006137``:
    ``Phi((a - nu T)/0.110789) + e^(2 nu a / sigma^2) Phi((a + nu T)/0.110789)
    = Phi(-0.795876) + e^(0.094311) Phi(-0.906661) = 0.213052 + 1.098902 x 0.182294 = 0.41338``.

    >>> round(liquidation_probability(side=1, mark=68_000, liquidation_price=61_880, sigma=0.8,
    ...                               horizon=7 / 365), 4)
    0.4134
    """
    s = np.asarray(side_sign(side), dtype=float)
    p0 = np.asarray(mark, dtype=float)
    lp = np.asarray(liquidation_price, dtype=float)
    p = np.asarray(touch_probability(spot=p0, barrier=lp, sigma=sigma, horizon=horizon, mu=mu))
    beyond = s * (p0 - lp) <= 0
    return _out(np.where(np.isnan(lp), 0.0, np.where(beyond, 1.0, p)))


def distance_to_liquidation(*, side: ArrayLike, mark: ArrayLike, liquidation_price: ArrayLike) -> Any:
    """Signed fraction of the mark the price may still move: ``s * (mark - LP) / mark``.

    Negative once the mark is past the liquidation price; NaN where there is none. The FAQ position
    (docs/domain.md §5): long, mark 68,000, LP 61,880: 6,120 / 68,000 = 9 %.

    >>> round(distance_to_liquidation(side=1, mark=68_000, liquidation_price=61_880), 6)
    0.09
    """
    s = np.asarray(side_sign(side), dtype=float)
    p0 = np.asarray(mark, dtype=float)
    return _out(s * (p0 - np.asarray(liquidation_price, dtype=float)) / p0)


def distance_in_sigma(*, side: ArrayLike, mark: ArrayLike, liquidation_price: ArrayLike, sigma: ArrayLike,
                      horizon: ArrayLike) -> Any:
    """The log distance to the liquidation price in standard deviations of the horizon's move.

    ``s * ln(mark / LP) / (sigma sqrt T)``: 2 means the liquidation price is two standard deviations
    of the log return over ``horizon`` away. NaN where there is no liquidation price.

    >>> round(distance_in_sigma(side=1, mark=68_000, liquidation_price=61_880, sigma=0.8, horizon=7 / 365), 4)
    0.8513
    """
    s = np.asarray(side_sign(side), dtype=float)
    p0 = np.asarray(mark, dtype=float)
    lp = np.asarray(liquidation_price, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = s * np.log(p0 / lp) / (np.asarray(sigma, dtype=float) * np.sqrt(np.asarray(horizon, dtype=float)))
    return _out(d)
