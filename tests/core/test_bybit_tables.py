"""The shipped Bybit BTCUSDT ladder (the 20 risk limits of the Margin Parameters page, dated
2025-11-25 in resources/exchanges/bybit.toml): in every risk limit, long and short, the isolated
liquidation price MarginLab gives is the root of equity = MM over that ladder, found by brute
force (tests/core/ladders.py), with the collateral reduced by Bybit's fee to close at the
bankruptcy price (taker 0.055 %), independently of the closed form in core.liquidation."""
from __future__ import annotations

import numpy as np
import pytest

from core.model import Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import quote_position
from tests.core.ladders import brute_force_lp

BYBIT = load_profiles([exchanges_dir()]).get("bybit")
BTC = BYBIT.contract("BTCUSDT").tiers


def test_the_btcusdt_ladder_is_the_published_one():
    # Bybit's Margin Parameters page (bybit.toml's notes): 20 risk limits, 2,000,000 at 100x up to
    # 80,000,000 at 14x, MMR 0.5 % to 4.5 % (the deductions follow the recursion, tests/core/test_tiers.py).
    assert len(BTC) == 20
    assert (BTC.cap[0], BTC.max_leverage[0], BTC.mmr[0]) == (2_000_000, 100, 0.005)
    assert (BTC.cap[-1], BTC.max_leverage[-1], BTC.mmr[-1]) == (80_000_000, 14, 0.045)
    assert BYBIT.rules.taker_fee == 0.00055


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
@pytest.mark.parametrize("k", range(len(BTC) - 1))  # below the last limit, so a short has room
def test_liquidation_price_is_the_root_of_equity_equals_mm(k, side):
    rng = np.random.default_rng(1000 * k + (side is Side.LONG))
    leverage = float(min(BTC.max_leverage[k], 0.9 / BTC.mmr[k], rng.uniform(1, BTC.max_leverage[k])))
    hi = float(BTC.cap[k])
    if side is Side.SHORT:
        # a short's liquidation notional, about N (1 + 1/L), must stay inside the ladder's 80,000,000
        if 0.98 * BTC.cap[-1] / (1 + 1 / leverage) <= BTC.floor[k]:
            leverage = float(BTC.max_leverage[k])
        hi = min(hi, 0.98 * float(BTC.cap[-1]) / (1 + 1 / leverage))
    notional = float(BTC.floor[k] + rng.uniform(0.1, 0.9) * (hi - BTC.floor[k]))
    entry = float(rng.uniform(20_000, 120_000))
    qty = round(notional / entry, 3)  # the contract's lot, 0.001 BTC
    q = quote_position(BYBIT, Position("BTCUSDT", side, qty, entry, leverage))
    expected = brute_force_lp(BTC, side, qty, entry, q.margin, close_fee_rate=BYBIT.rules.taker_fee)
    assert q.liquidation_price == pytest.approx(expected, rel=1e-9), (k, side, leverage)
