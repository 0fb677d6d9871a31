"""The shipped Binance tables (every USDⓈ-M perpetual of the 2024-10-24 snapshot): for 30 symbols
drawn from it, the liquidation price MarginLab gives is the root of equity = MM over that symbol's
own brackets, found by brute force (tests/core/ladders.py: bisection on the mark, the bracket
looked up at each trial notional), independently of the closed form in core.liquidation."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from core.model import Position, Side
from core.paths import exchanges_dir
from core.profiles import load_profiles
from core.quote import quote_position
from tests.core.ladders import brute_force_lp

BINANCE = load_profiles([exchanges_dir()]).get("binance")
RNG = np.random.default_rng(20241024)
SYMBOLS = sorted(RNG.choice(np.array(BINANCE.symbols), size=30, replace=False).tolist())


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_liquidation_price_is_the_root_of_equity_equals_mm(symbol):
    t = BINANCE.contract(symbol).tiers
    rng = np.random.default_rng(zlib.crc32(symbol.encode()))
    for side in (Side.LONG, Side.SHORT):
        k = int(rng.integers(0, max(1, len(t) - 1)))  # a bracket below the last, so a short has room
        notional = float(t.floor[k] + rng.uniform(0.1, 0.9) * (t.cap[k] - t.floor[k]))
        entry = float(rng.uniform(0.5, 200.0))
        qty = notional / entry
        leverage = float(min(t.max_leverage[k], 0.9 / t.mmr[k], rng.uniform(1, t.max_leverage[k])))
        q = quote_position(BINANCE, Position(symbol, side, qty, entry, leverage))
        expected = brute_force_lp(t, side, qty, entry, q.margin)
        assert q.liquidation_price == pytest.approx(expected, rel=1e-9), (symbol, side, k, leverage)


def test_every_shipped_contract_is_a_ladder():
    # The JSON profiles are checked contract by contract when used: here every one is used once.
    for profile in load_profiles([exchanges_dir()]):
        for symbol in profile.symbols:
            profile.contract(symbol).tiers.check_ladder()
    assert len(BINANCE.symbols) == 344
