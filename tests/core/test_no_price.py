"""A long backed by its whole notional has no liquidation or bankruptcy price (docs/domain.md §1).

The closed form gives exactly zero there; in floating point it comes out as +-1e-16-sized noise
(found by hypothesis in test_properties). Both the scalar path and the large-array fast path must
say "none" (NaN), never a price of 0.0000000000000002.
"""
from __future__ import annotations

import numpy as np

from core.liquidation import bankruptcy_price, liquidation_price
from core.paths import exchanges_dir
from core.profiles import load_profiles

BINANCE = load_profiles([exchanges_dir()]).get("binance")


def _fully_backed(n: int):
    rng = np.random.default_rng(3)
    qty = rng.uniform(0.001, 3.0, n)
    entry = rng.uniform(0.01, 100_000.0, n)
    # margin = notional, give or take the last bits of a float
    wallet = qty * entry * (1.0 + rng.integers(-4, 5, n) * np.finfo(float).eps)
    return qty, entry, wallet


def test_fully_backed_long_has_no_price_scalar_and_fast_path():
    tiers = BINANCE.contract("BTCUSDT").tiers
    for n in (50, 40_000):  # below and above the fast path's size threshold
        qty, entry, wallet = _fully_backed(n)
        lp = liquidation_price(side=1, qty=qty, entry=entry, wallet=wallet, tiers=tiers)
        bp = bankruptcy_price(side=1, qty=qty, entry=entry, wallet=wallet)
        assert np.isnan(lp).all()
        assert np.isnan(bp).all()


def test_a_real_low_price_is_kept():
    # 1 unit long at 100 with 99.9 of margin: BP = 100 - 99.9 = 0.1 (hand derivation), a real price.
    assert bankruptcy_price(side=1, qty=1, entry=100, wallet=99.9) == np.float64(100 - 99.9)
