"""An independent check of a shipped tier ladder: the liquidation price as the root of equity = MM.

The brute force written here never calls core.liquidation: it looks the tier up at each trial
notional (the tier at the liquidation notional, rules ``tier_at_liquidation``), charges
MM(N) = MMR_k N - cum_k, and finds the mark where the position's equity equals it by bisection.
Under Bybit's ``close_fee`` model the collateral is first reduced by the fee to close at the
bankruptcy price of the position's margin, written out here from Bybit's own formula
(BP = (q EP -/+ margin) / (q (1 -/+ f)), fee = f q BP; docs/domain.md §1).
"""
from __future__ import annotations

import numpy as np

from core.model import Side
from core.tiers import TierTable


def brute_force_lp(tiers: TierTable, side: Side, qty: float, entry: float, margin: float, *,
                   close_fee_rate: float = 0.0) -> float:
    """Bisection of f(P) = M - fee + s q (P - EP) - MM(q P) over ``tiers``, the tier of q P each time."""
    s = 1.0 if side is Side.LONG else -1.0
    fee = 0.0
    if close_fee_rate:
        bp = (qty * entry - s * margin) / (qty * (1.0 - s * close_fee_rate))
        fee = close_fee_rate * qty * bp

    def f(p: float) -> float:
        n = qty * p
        k = int(np.searchsorted(tiers.floor, n, side="right") - 1)
        return margin - fee + s * qty * (p - entry) - (tiers.mmr[k] * n - tiers.cum[k])

    lo, hi = (entry * 1e-9, entry) if s > 0 else (entry, (tiers.cap[-1] * (1 - 1e-9)) / qty)
    assert f(lo) * f(hi) < 0  # a root lies between: unsafe at one end, safe at the entry
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (f(mid) < 0) == (s > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
