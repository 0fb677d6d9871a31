"""The stop-loss / take-profit trigger and the close of a position: plain functions of prices."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.model import Side
from core.orders import close_at, stop_hit
from core.simspec import ActionKind

WICK = [68_000, 66_000, 62_000, 60_000, 68_000, 75_000]


@pytest.mark.parametrize(("kind", "side", "trigger", "first"), [
    ("stop_loss", Side.LONG, 62_000, 2),      # last <= 62,000 first at index 2 (touching fires)
    ("take_profit", Side.LONG, 70_000, 5),    # last >= 70,000
    ("stop_loss", Side.SHORT, 70_000, 5),     # a short's stop is above: last >= 70,000
    ("take_profit", Side.SHORT, 61_000, 3),   # a short's take-profit is below: last <= 61,000
    ("stop_loss", Side.LONG, 50_000, None),   # never reached
])
def test_stop_hit_is_the_first_last_price_at_or_past_the_trigger(kind, side, trigger, first):
    assert stop_hit(kind, side, trigger, WICK) == first
    assert stop_hit(ActionKind(kind), side.sign, trigger, np.array(WICK)) == first  # enum and +-1 too


def test_stop_hit_refuses_an_unknown_kind():
    with pytest.raises(InvalidInputError, match="stop_loss, take_profit"):
        stop_hit("trailing", Side.LONG, 1.0, [1.0])


def test_close_at_realises_the_pnl_at_the_fill_and_the_fee_on_the_notional():
    # a long: 5 * (61,500 - 68,000) = -32,500, fee 0.0005 * 307,500 = 153.75
    c = close_at(side=Side.LONG, qty=5, entry=68_000, price=61_500, fee_rate=0.0005)
    assert (c.qty, c.price, c.realized_pnl, c.fee) == (5, 61_500, -32_500.0, pytest.approx(153.75))
    # a short: 1 * (68,000 - 65,900) = +2,100 (test_simulate.py's take-profit)
    assert close_at(side=-1, qty=1, entry=68_000, price=65_900, fee_rate=0.0).realized_pnl == 2_100.0
