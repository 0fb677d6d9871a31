"""One root finder for a monotone function on a bracket: the engine's numbers run backwards.

Used where MarginLab asks "what input gives this output?" and the only honest answer is the engine
itself: the margin that puts the liquidation price at a price (:mod:`core.lp_target`), the rate or
wallet an exchange's reported liquidation price implies (:mod:`core.audit`). The function is the
engine (:func:`core.quote.quote_account` inside a closure), never a second copy of a formula.
"""
from __future__ import annotations

import math
from collections.abc import Callable


def bracketed_root(f: Callable[[float], float], target: float, lo: float, hi: float, *,
                   x_tol: float = 0.0, max_iter: int = 200) -> float:
    """``x`` in ``[lo, hi]`` with ``f(x) == target``, for ``f`` continuous and monotone on the bracket.

    Regula falsi with the Illinois step (the end that stays put has its value halved), which is
    exact in one step where ``f`` is straight and never slower than halving elsewhere; every step
    keeps the root bracketed. Stops when ``f`` hits ``target``, when the bracket is no wider than
    ``x_tol`` (default: the floats next to each other), or after ``max_iter`` steps.

    Returns NaN when ``target`` is not between ``f(lo)`` and ``f(hi)`` (no root on the bracket) or
    when ``f`` gives NaN at an end.

    Examples
    --------
    >>> bracketed_root(lambda x: 3 * x + 1, 10, 0, 100)
    3.0
    >>> round(bracketed_root(lambda x: x ** 3, 2, 0, 2), 12)
    1.259921049895
    >>> bracketed_root(lambda x: x, 5, 0, 1)
    nan
    """
    a, b = float(lo), float(hi)
    fa, fb = f(a) - target, f(b) - target
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return math.nan
    if fa == 0:
        return a
    if fb == 0:
        return b
    if (fa > 0) == (fb > 0):
        return math.nan
    side = 0
    for _ in range(max_iter):
        x = b - fb * (b - a) / (fb - fa)
        if not a < x < b and not b < x < a:  # rounding put the step outside: halve instead
            x = 0.5 * (a + b)
        fx = f(x) - target
        if fx == 0 or not math.isfinite(fx):
            return x
        if (fx > 0) == (fb > 0):
            b, fb = x, fx
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = x, fx
            if side == 1:
                fb /= 2
            side = 1
        if abs(b - a) <= max(x_tol, 4 * math.ulp(max(abs(a), abs(b)))):
            break
    return a if abs(fa) <= abs(fb) else b
