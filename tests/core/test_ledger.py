"""The double-entry ledger and the book model."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.book import BookModel
from core.errors import InvalidInputError
from core.ledger import Ledger, replay


def test_transfer_moves_money_between_two_parties():
    led = Ledger({"a": 100.0, "b": 0.0})
    led.transfer(1.0, "a", "b", 30.0, "x")
    led.transfer(2.0, "a", "b", -5.0, "negative amounts flow the other way")
    assert led.balance("a") == 75.0
    assert led.balance("b") == 25.0
    assert [(tr.src, tr.dst, tr.amount) for tr in led.transfers] == [("a", "b", 30.0), ("b", "a", 5.0)]
    assert {p.name: (p.start, p.end) for p in led.parties()} == {"a": (100.0, 75.0), "b": (0.0, 25.0)}


def test_zero_transfer_is_not_recorded_and_bad_ones_are_refused():
    led = Ledger({"a": 1.0, "b": 0.0})
    led.transfer(0.0, "a", "b", 0.0, "nothing")
    assert led.transfers == ()
    with pytest.raises(InvalidInputError, match="is not open"):
        led.transfer(0.0, "a", "nobody", 1.0, "x")
    with pytest.raises(InvalidInputError, match="same party"):
        led.transfer(0.0, "a", "a", 1.0, "x")
    with pytest.raises(InvalidInputError, match="finite"):
        led.transfer(0.0, "a", "b", math.nan, "x")
    with pytest.raises(InvalidInputError, match="already open"):
        led.open("a", 5.0)
    assert led.balance("a") == 1.0


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3),
                          st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)), max_size=60))
def test_money_is_conserved_whatever_the_transfers(moves):
    names = ["p0", "p1", "p2", "p3"]
    opening = {"p0": 10.0, "p1": 0.0, "p2": 1e6, "p3": 0.0}
    led = Ledger(opening)
    for i, (a, b, amt) in enumerate(moves):
        if a != b:
            led.transfer(float(i), names[a], names[b], amt, "random")
    total_start = math.fsum(opening.values())
    total_end = math.fsum(p.end for p in led.parties())
    # each transfer rounds two balances by at most half an ulp of the largest amount involved:
    # 2.2e-16 relative, so the sum may drift by a few ulps of (balances + amounts) per transfer
    scale = 1.0 + sum(abs(v) for v in opening.values()) + sum(abs(m[2]) for m in moves)
    assert abs(total_end - total_start) <= 4.5e-16 * scale * (len(moves) + 1)
    rebuilt = replay(opening, led.transfers)
    for p in led.parties():
        assert rebuilt[p.name] == pytest.approx(p.end, abs=1e-6 * scale)


def test_book_fill_walks_the_depth_and_stops_at_the_ioc_limit():
    # depth 10 BTC per 1 %: selling 5 BTC at 61,500 walks u = 5/1,000 = 0.5 %; average half of it:
    # 61,500 * (1 - 0.0025) = 61,346.25
    b = BookModel(depth=10.0, max_slippage=0.02)
    f = b.fill(side=-1, qty=5.0, price=61_500.0)
    assert f.qty == 5.0
    assert f.price == pytest.approx(61_346.25)
    # 30 BTC would walk 3 %, beyond the 2 % limit: only 100 * 10 * 0.02 = 20 BTC fill, averaging 1 % off
    f = b.fill(side=-1, qty=30.0, price=100.0)
    assert f.qty == pytest.approx(20.0)
    assert f.price == pytest.approx(99.0)
    assert not f.complete
    # buying mirrors upwards; the half spread is paid on top: 100 * (1 + 0.001 + 0.0025)
    f = BookModel(depth=10.0, half_spread=0.001).fill(side=+1, qty=5.0, price=100.0)
    assert f.price == pytest.approx(100.35)


def test_bottomless_book_fills_at_the_price():
    f = BookModel().fill(side=-1, qty=1e9, price=61_500.0)
    assert (f.qty, f.price) == (1e9, 61_500.0)


@pytest.mark.parametrize(("kw", "field"), [({"depth": 0.0}, "book.depth"), ({"half_spread": -0.1}, "book.half_spread"),
                                            ({"max_slippage": 1.5}, "book.max_slippage")])
def test_book_refuses_bad_parameters(kw, field):
    with pytest.raises(InvalidInputError) as err:
        BookModel(**kw)
    assert err.value.field == field
