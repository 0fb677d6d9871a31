"""Planning on the chart: the entry, stop-loss, take-profit and liquidation lines are dragged.

Offscreen, a drag is driven through the lines' own signals, as pyqtgraph emits them from the mouse
(``sigDragged`` while moving, ``sigPositionChangeFinished`` on release); the real mouse drag is in
tests/gui/test_display.py. Each drag is one undo step; a dragged liquidation line is a what-if
preview that Apply makes real, to the tick.
"""
from __future__ import annotations

import pytest

from core import fmt
from core.model import MarginMode


def drag(chart, name: str, *prices: float) -> None:
    """Move line ``name`` through ``prices`` as a mouse drag does, and release it at the last."""
    line = chart._line(name)
    for p in prices:
        line.setValue(p)
        line.sigDragged.emit(line)
    line.sigPositionChangeFinished.emit(line)


def test_a_dragged_stop_loss_is_one_undo_step(window):
    s, chart = window.session, window.chart
    s.set_order("stop_loss", 65_000.0)
    n = s.undo_stack.count()
    drag(chart, "stop_loss", 64_800.0, 64_500.3, 64_100.04)
    assert s.orders()["stop_loss"] == 64_100.0  # snapped to the 0.1 tick
    assert s.undo_stack.count() == n + 1
    drag(chart, "stop_loss", 63_000.0)  # a second drag is a second step, never merged into the first
    assert s.undo_stack.count() == n + 2
    s.undo_stack.undo()
    assert s.orders()["stop_loss"] == 64_100.0
    s.undo_stack.undo()
    assert s.orders()["stop_loss"] == 65_000.0
    assert chart.sl_line.value() == 65_000.0  # the line follows the undo


def test_the_read_out_previews_while_dragging_and_nothing_changes_until_release(window):
    s, chart = window.session, window.chart
    s.set_order("take_profit", 70_000.0)
    n = s.undo_stack.count()
    line = chart.tp_line
    line.setValue(71_000.0)
    line.sigDragged.emit(line)
    # 5 x (71,000 - 68,000) = 15,000 if the order filled there
    assert "PnL 15,000.00" in chart.readout.text()
    assert s.undo_stack.count() == n and s.orders()["take_profit"] == 70_000.0
    s.requote()  # a new mark during the drag leaves the held line where the mouse has it
    assert line.value() == 71_000.0
    line.sigPositionChangeFinished.emit(line)
    assert s.orders()["take_profit"] == 71_000.0 and s.undo_stack.count() == n + 1


def test_a_dragged_entry_moves_the_form_and_the_results(window):
    s, chart = window.session, window.chart
    line = chart.entry_line
    line.setValue(67_000.0)
    line.sigDragged.emit(line)
    # isolated 5 BTC at 67,000 with margin 33,500 (10x) and MM 1 %: LP 67,000 - (33,500 - 3,350) / 5
    assert "liquidation 60,970.0" in chart.readout.text()
    n = s.undo_stack.count()
    line.sigPositionChangeFinished.emit(line)
    assert s.position.entry_price == 67_000.0 and s.undo_stack.count() == n + 1
    assert window.form.entry.text().replace(",", "").startswith("67000")
    assert s.position_quote.liquidation_price == pytest.approx(60_970.0)


def test_a_refused_drop_snaps_back_with_the_reason(window):
    s, chart = window.session, window.chart
    s.set_order("stop_loss", 65_000.0)
    n = s.undo_stack.count()
    drag(chart, "stop_loss", 69_000.0)  # above the start mark 68,000: not a long's stop-loss
    assert s.orders()["stop_loss"] == 65_000.0 and s.undo_stack.count() == n
    assert chart.sl_line.value() == 65_000.0
    assert "must lie between 0 and 68,000" in chart.readout.text()


@pytest.mark.parametrize("pid", ["binance", "bybit", "classic", "hyperliquid"])
@pytest.mark.parametrize("mode", [MarginMode.ISOLATED, MarginMode.CROSS])
def test_dragging_the_liquidation_line_previews_the_change_and_apply_gives_that_price(window, pid, mode):
    s, chart = window.session, window.chart
    s.set_profile(pid)
    if mode is MarginMode.CROSS:
        s.edit_position(0, mode="cross")
        s.set_wallet(40_000.0)
    before = s.position_quote.liquidation_price
    n = s.undo_stack.count()
    drag(chart, "liquidation", before - 500.0, 59_123.456)
    res = s.preview_result
    assert res is not None and s.preview_action == "target_liquidation"
    assert window.tabs.currentWidget() is window.whatif
    assert window.whatif.target_price.value() == pytest.approx(59_123.5)
    assert chart.ghost_line.isVisible() and chart.ghost_line.value() == pytest.approx(59_123.5)
    assert chart.liq_line.value() == pytest.approx(before)  # nothing applied yet
    assert "Liquidation at 59,123.5" in window.whatif.outcome.text()
    window.whatif.apply()
    assert s.undo_stack.count() == n + 1
    lp = s.position_quote.liquidation_price
    assert fmt.price(lp, s.tick) == "59,123.5" and lp == pytest.approx(59_123.5, rel=1e-10)
    s.undo_stack.undo()
    assert s.position_quote.liquidation_price == pytest.approx(before)


def test_the_lever_is_chosen_in_the_whatif_tab(window):
    s, chart, panel = window.session, window.chart, window.whatif
    panel.set_action("target_liquidation")
    panel.target_lever.setCurrentIndex(panel.target_lever.findData("leverage"))
    assert s.target_lever == "leverage"
    drag(chart, "liquidation", 61_000.0)
    assert s.preview_result.action == "change_leverage"
    panel.apply()
    assert s.position_quote.liquidation_price == pytest.approx(61_000.0, rel=1e-10)


def test_an_unreachable_liquidation_price_is_refused_in_the_whatif_tab(window):
    s, chart, panel = window.session, window.chart, window.whatif
    drag(chart, "liquidation", 70_000.0)  # above the mark: the long would be liquidated at once
    assert s.preview_result is None
    assert not panel.message.isHidden() and "must lie below the mark" in panel.message.text()
    assert not panel.apply_button.isEnabled()
