"""The Payoff tab: every number it draws or prints is the engine's PnL at exit and the session's quote."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from core import fmt
from core.margin import position_pnl_at_exit
from core.model import MarginMode, Side
from gui.widgets.payoff import MOVES, TABLE_LEVELS, QtPayoffView, level_text, price_range


@pytest.fixture
def view(shown, session) -> QtPayoffView:
    return shown(QtPayoffView(session), 700, 500)


def _core_pnl(session, x):
    return position_pnl_at_exit(session.profile, session.position, x)


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + fmt.money(x)


def _assert_matches_core(w: QtPayoffView, session) -> None:
    p, q, tick = session.position, session.position_quote, session.tick
    pay = w.payoff
    assert pay is not None and pay.position == p
    xs, ys = w.curve.getData()
    np.testing.assert_array_equal(xs, pay.prices)
    np.testing.assert_array_equal(ys, _core_pnl(session, pay.prices))
    levels = {"entry": p.entry_price, "mark": q.mark, "liquidation": q.liquidation_price,
              "bankruptcy": q.bankruptcy_price}
    for name, price in levels.items():
        assert pay.levels[name][0] == price or (math.isnan(price) and math.isnan(pay.levels[name][0]))
        if math.isfinite(price):
            assert pay.levels[name][1] == _core_pnl(session, price)
            assert w.lines[name].value() == price
            assert w.lines[name].label.toPlainText() == level_text(pay, name) == f"{name} {fmt.price(price, tick)}"
        else:
            assert not w.lines[name].isVisible()
    # the table: the two levels, then the moves from the entry
    for c, name in enumerate(TABLE_LEVELS):
        price = levels[name]
        assert w.move_cell(0, c) == fmt.price(price, tick)
        assert w.move_cell(1, c) == _signed(_core_pnl(session, price))
    for c, f in enumerate(MOVES, start=len(TABLE_LEVELS)):
        x = p.entry_price * (1 + f)
        assert w.move_cell(0, c) == fmt.price(x, tick)
        assert w.move_cell(1, c) == _signed(_core_pnl(session, x))
    # every level and every move lies inside the drawn range, which never reaches zero
    lo, hi = float(pay.prices[0]), float(pay.prices[-1])
    assert lo > 0 and all(lo <= x <= hi for x in [*levels.values(), *(p.entry_price * (1 + f) for f in MOVES)]
                          if math.isfinite(x) and x > 0)


def test_curve_levels_and_table_are_the_core_calls(view, qtbot, session):
    w = view
    _assert_matches_core(w, session)
    # the source FAQ's example (docs/domain.md §5): 5 BTC long at 68,000, 10x isolated, LP 61,880;
    # by hand, an exit at the LP loses 5 x (61,880 - 68,000) = -30,600 and at the BP 61,200 -34,000
    assert w.move_cell(0, 0) == "61,880.0" and w.move_cell(1, 0) == "-30,600.00"
    assert w.move_cell(0, 1) == "61,200.0" and w.move_cell(1, 1) == "-34,000.00"
    # a linear payoff is straight: 20 % either way from the entry is the same amount, 5 x 13,600
    assert w.move_cell(1, 2) == "-68,000.00" and w.move_cell(1, 3) == "+68,000.00"
    assert w.plot.getPlotItem().getAxis("left").labelText == "PnL (USDT)"
    # a long is liquidated below its LP: that is the shaded region
    lo, hi = w.region.getRegion()
    assert w.region.isVisible() and lo == w.payoff.prices[0] and hi == session.position_quote.liquidation_price


def test_readout_is_the_core_pnl_at_the_mouse(view, qtbot, session):
    w = view
    text = w.show_readout(70_000.0)
    assert text == f"exit 70,000.0: PnL {_signed(_core_pnl(session, 70_000.0))} USDT"
    assert w.show_readout(60_000.0).endswith("(past the liquidation price: liquidated before this exit)")
    # through the scene, as a mouse move would
    scene = w.plot.getPlotItem().vb.mapViewToScene(QPointF(66_000.0, 0.0))
    w.plot.scene().sigMouseMoved.emit(scene)
    x = w.cross_v.value()
    assert abs(x - 66_000.0) < 0.01 * 66_000
    assert w.readout.text() == f"exit {fmt.price(x, session.tick)}: PnL {_signed(_core_pnl(session, x))} USDT"


def test_follows_edits_through_the_throttle(view, qtbot, session):
    w = view
    before = w.lines["liquidation"].value()
    session.edit_position(0, leverage=20.0)
    assert w.throttle.pending  # not redrawn on every signal ...
    w.throttle.flush()  # ... but once per burst
    assert w.lines["liquidation"].value() != before
    _assert_matches_core(w, session)
    # a short: liquidated above its LP, the region shaded there
    session.edit_position(0, side=Side.SHORT.value)
    w.throttle.flush()
    _assert_matches_core(w, session)
    lo, hi = w.region.getRegion()
    assert lo == session.position_quote.liquidation_price and hi == w.payoff.prices[-1]
    # cross on the wallet, the mark moved by the feed: the mark line follows the quote
    session.edit_position(0, mode=MarginMode.CROSS.value)
    session.live.advance(600)
    w.throttle.flush()
    _assert_matches_core(w, session)
    assert w.lines["mark"].value() == session.position_quote.mark != session.position.entry_price
    session.undo_stack.undo()
    w.throttle.flush()
    _assert_matches_core(w, session)


@pytest.mark.parametrize(("entry", "levels", "expected"), [
    # the moves alone: 68,000 -/+ 20 % = 54,400..81,600, span 27,200, a tenth of it either side
    (68_000.0, [68_000.0, math.nan], (54_400 - 2_720, 81_600 + 2_720)),
    # a level far below: the range never reaches zero, it stops at half the lowest level
    (100.0, [1.0, 100.0], (0.5, 120.0 + 11.9)),
])
def test_price_range(entry, levels, expected):
    lo, hi = price_range(entry, levels)
    assert lo == pytest.approx(expected[0]) and hi == pytest.approx(expected[1])
