"""Form -> session -> results and chart: the numbers shown are core's, and edits are undoable.

Golden values are hand derivations under the classic profile (docs/domain.md §5: MM on the entry
notional, no maintenance amount; 5 BTC at 68,000 is tier 3, MMR 1 %, max 50x):
LP = entry - (margin - MM) / qty, BP = entry - margin / qty, margin = 5 x 68,000 / leverage.
"""
from __future__ import annotations

import math

import pytest

from core import fmt
from gui.widgets.results import ROWS


def snapshot(window):
    r = window.results
    texts = {k: r.values[k].text() for k, _ in ROWS}
    texts["gauge"] = r.gauge.format()
    texts["liq_line"] = window.chart.liq_line.value()
    texts["bankrupt_line"] = window.chart.bankrupt_line.value()
    texts["form_leverage"] = window.form.leverage.value()
    texts["form_margin"] = window.form.margin.value()
    return texts


def test_first_launch_opens_on_the_faq_example_ready_to_play(window):
    s = window.session
    p = s.position
    assert (s.scenario.exchange, p.symbol, p.side.value, p.qty_base, p.entry_price, p.leverage, p.mode.value) == (
        "classic", "BTCUSDT", "long", 5.0, 68_000.0, 10.0, "isolated")
    # LP = 68,000 - (34,000 - 3,400) / 5 = 61,880; BP = 68,000 - 34,000 / 5 = 61,200 (docs/domain.md §5).
    assert window.results.values["liquidation_price"].text() == "61,880.0"
    assert window.results.values["bankruptcy_price"].text() == "61,200.0"
    assert window.results.values["initial_margin"].text() == "34,000.00 USDT"
    assert window.results.values["maintenance_margin"].text() == "3,400.00 USDT"
    assert window.results.values["fill_price"].text() == "--"  # no liquidation yet
    assert window.chart.liq_line.value() == pytest.approx(61_880.0)
    assert window.chart.entry_line.value() == pytest.approx(68_000.0)
    assert window.chart.play_button.isEnabled() and not s.live.playing
    assert s.live.feed.n == 1 and s.live.feed.last_mark == 68_000.0
    # The arithmetic is there, including why the FAQ's 64,940 is wrong.
    tip = window.results.values["liquidation_price"].toolTip()
    assert "68,000 - (34,000 - 3,400) / 5 = 61,880" in tip and "64,940" in tip


def test_editing_the_form_updates_results_and_chart(window, qtbot):
    window.form.leverage.setValue(20.0)
    # 20x: margin 17,000; LP = 68,000 - (17,000 - 3,400) / 5 = 65,280; BP = 68,000 - 17,000 / 5 = 64,600.
    assert window.results.values["liquidation_price"].text() == "65,280.0"
    assert window.results.values["bankruptcy_price"].text() == "64,600.0"
    assert window.results.values["initial_margin"].text() == "17,000.00 USDT"
    assert window.chart.liq_line.value() == pytest.approx(65_280.0)
    assert window.session.undo_stack.count() == 1
    assert window.isWindowModified()
    # Size as notional: 170,000 USDT at 68,000 is 2.5 BTC -> tier 2 (50k-250k, MMR 0.5 %):
    # margin 8,500, MM 850, LP = 68,000 - (8,500 - 850) / 2.5 = 64,940.
    window.form.size_unit.setCurrentIndex(1)
    window.form.size_field.setValue(170_000.0)
    assert window.session.position.qty_base == pytest.approx(2.5)
    assert window.results.values["liquidation_price"].text() == "64,940.0"


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("leverage", 80.0, "allowed 1-50"),  # tier 3 allows at most 50x
    ("size_field", 0.0, "must be in (0, 1e+15]"),
    ("entry", 0.0, "must be in (0, 1e+15]"),
])
def test_bad_input_shows_its_message_and_changes_nothing(window, field, value, expected):
    before_state = window.session.scenario
    before = snapshot(window)
    getattr(window.form, field).setValue(value)
    key = {"size_field": "qty"}.get(field, field)
    err = window.form.errors[key]
    assert not err.isHidden() and expected in err.text()
    assert window.session.scenario is before_state
    assert window.session.undo_stack.count() == 0
    after = snapshot(window)
    after.pop(f"form_{field}", None)
    before.pop(f"form_{field}", None)
    assert after == before


def test_preview_apply_undo_restores_every_number(window):
    start = snapshot(window)
    panel = window.whatif
    panel.set_action("add_margin")
    panel.add_margin.spin.setValue(5_000.0)
    # Preview: margin 39,000 -> LP = 68,000 - (39,000 - 3,400) / 5 = 60,880 (1,000 lower).
    assert window.chart.ghost_line.isVisible()
    assert window.chart.ghost_line.value() == pytest.approx(60_880.0)
    assert panel.cell("liquidation_price", 1) == "60,880.0"
    assert panel.cell("liquidation_price", 2) == "-1,000.0"
    assert panel.cell("bankruptcy_price", 2) == "-1,000.0"  # BP = 68,000 - 39,000 / 5 = 60,200
    assert snapshot(window) == start  # a preview changes nothing
    panel.apply_button.click()
    assert window.results.values["liquidation_price"].text() == "60,880.0"
    assert window.results.values["bankruptcy_price"].text() == "60,200.0"
    assert window.session.account.wallet_usd == pytest.approx(15_000.0)  # paid from the free balance
    assert not window.chart.ghost_line.isVisible()
    assert window.act_undo.text().endswith("Add margin")
    window.act_undo.trigger()
    assert snapshot(window) == start
    assert window.session.account.wallet_usd == pytest.approx(20_000.0)
    window.act_redo.trigger()
    assert window.results.values["liquidation_price"].text() == "60,880.0"


def test_leverage_slider_previews_and_refuses_out_of_range(window):
    panel = window.whatif
    panel.set_action("change_leverage")
    panel.leverage.spin.setValue(20.0)
    # 20x -> LP 65,280 (see test above): +3,400 from 61,880.
    assert panel.cell("liquidation_price", 2) == "+3,400.0"
    assert window.chart.ghost_line.value() == pytest.approx(65_280.0)
    # 5x needs 34,000 more margin than the 20,000 free balance: refused with the allowed range.
    panel.leverage.spin.setValue(5.0)
    assert not panel.message.isHidden() and "allowed from" in panel.message.text()
    assert not window.chart.ghost_line.isVisible()
    assert not panel.apply_button.isEnabled()


@pytest.mark.parametrize(("mark", "level", "text"), [
    (63_000.0, "ok", "37.78 %"),  # equity 34,000 - 5 x 5,000 = 9,000; 3,400 / 9,000
    (62_400.0, "warn", "56.67 %"),  # equity 6,000; 3,400 / 6,000
    (62_000.0, "danger", "85.00 %"),  # equity 4,000; 3,400 / 4,000
])
def test_margin_ratio_gauge_turns_amber_then_red(window, mark, level, text):
    window.form.mark.setValue(mark)
    assert window.results.gauge.property("level") == level
    assert window.results.gauge.format() == text


def test_crosshair_reads_price_and_pnl_there(window):
    window.chart.show_crosshair(10.0, 65_000.0)
    text = window.chart.readout.text()
    assert "price 65,000.0" in text
    assert "uPnL -15,000.00" in text  # 5 x (65,000 - 68,000)
    assert window.chart.cross_h.value() == pytest.approx(65_000.0)


def test_several_positions_in_a_cross_account(window):
    s = window.session
    table = window.table
    # one-way mode on a profile with one contract (classic: BTCUSDT), held already: Add has nothing to add
    table.add_button.click()
    assert table.table.rowCount() == 1 and table.message.text().startswith("positions: every classic contract")
    # hedge mode: Add gives the selected symbol's other leg, same size, at its start mark
    table.mode_combo.setCurrentIndex(table.mode_combo.findData("hedge"))
    assert s.account.position_mode.value == "hedge" and table.message.isHidden()
    table.add_button.click()
    assert table.table.rowCount() == 2 and s.selected == 1
    assert (s.position.side.value, s.position.qty_base, s.position.entry_price) == ("short", 5.0, 68_000.0)
    assert table.note.text().startswith("Added #2: the short leg of BTCUSDT at its start mark 68,000.0")
    assert [table.table.item(r, 1).text() for r in range(2)] == ["long", "short"]  # the side column
    window.form.mode.setCurrentIndex(window.form.mode.findData("cross"))
    assert s.position.mode.value == "cross"
    # The short alone in cross on a 20,000 wallet: LP = 68,000 + (20,000 - 3,400) / 5 = 71,320 (entry basis).
    assert window.results.values["liquidation_price"].text() == "71,320.0"
    assert "cross equity" in table.account_label.text()
    table.table.selectRow(0)
    assert s.selected == 0 and window.results.values["liquidation_price"].text() == "61,880.0"
    window.form.wallet.setValue(100_000.0)
    s.select(1)
    # 100,000 covers 5 BTC up to 68,000 + (100,000 - 3,400) / 5 = 87,320.
    assert window.results.values["liquidation_price"].text() == "87,320.0"


def test_no_liquidation_price_shows_dashes(window):
    window.form.mode.setCurrentIndex(window.form.mode.findData("cross"))
    window.form.wallet.setValue(1_000_000.0)
    # 1,000,000 - 3,400 covers 5 BTC far below zero: LP would be negative -> none (docs/domain.md §1).
    assert window.results.values["liquidation_price"].text() == "--"
    assert window.results.values["distance"].text() == "--"
    assert not window.chart.liq_line.isVisible()
    assert math.isnan(window.session.position_quote.liquidation_price)


def test_draggable_probe_line_quotes_the_position_at_its_mark(window):
    chart = window.chart
    chart.probe_box.setChecked(True)
    assert chart.probe_line.isVisible() and chart.probe_line.movable
    chart.probe_line.setValue(62_000.0)  # what a drag does, through sigPositionChanged
    # uPnL 5 x (62,000 - 68,000) = -30,000; equity 4,000; ratio 3,400 / 4,000 = 85 %.
    assert "uPnL -30,000.00" in chart.readout.text() and "ratio 85.00 %" in chart.readout.text()
    chart.probe_line.setValue(61_800.0)  # below LP 61,880: equity 3,000 < MM 3,400
    assert "LIQUIDATED" in chart.readout.text()
    assert window.session.undo_stack.count() == 0  # probing is not an edit


def test_stop_loss_and_take_profit_are_drawn_and_saved_where_the_simulator_reads_them(window, tmp_path):
    from core.scenario import load_scenario
    from core.simspec import Action, ActionKind

    window.form.stop_loss.setValue(63_000.0)
    window.form.take_profit.setValue(75_000.0)
    assert window.chart.sl_line.isVisible() and window.chart.sl_line.value() == pytest.approx(63_000.0)
    assert window.chart.tp_line.isVisible() and window.chart.tp_line.value() == pytest.approx(75_000.0)
    assert window.chart.sl_line.label.toPlainText() == "stop-loss 63,000.0"
    # A long's stop-loss above its start mark (68,000) is refused in place.
    window.form.stop_loss.setValue(70_000.0)
    assert "between 0 and 68,000" in window.form.errors["stop_loss"].text()
    assert window.session.orders() == {"stop_loss": 63_000.0, "take_profit": 75_000.0}
    path = tmp_path / "orders.json"
    assert window._save_to(path)
    actions = load_scenario(path).simulation.actions
    assert Action(t=0.0, kind=ActionKind.STOP_LOSS, position=0, value=63_000.0) in actions
    window.form.stop_loss.setValue(0.0)  # "none" removes the order
    assert not window.chart.sl_line.isVisible()
    window.act_undo.trigger()
    assert window.chart.sl_line.isVisible() and window.form.stop_loss.value() == 63_000.0


def test_crosshair_follows_the_mouse_through_sig_mouse_moved(window, qtbot):
    from PySide6.QtCore import QPointF

    window.show()
    qtbot.waitExposed(window)
    vb = window.chart.plot.getPlotItem().getViewBox()
    x0, x1 = vb.viewRange()[0]
    scene_pos = vb.mapViewToScene(QPointF((x0 + x1) / 2, 65_000.0))
    window.chart.plot.scene().sigMouseMoved.emit(scene_pos)
    assert window.chart.cross_v.isVisible()
    assert window.chart.cross_h.value() == pytest.approx(65_000.0, abs=1.0)
    assert "uPnL -15,0" in window.chart.readout.text()  # 5 x (65,000 - 68,000), within a pixel


def test_partial_close_and_add_to_position_through_the_panel(window):
    panel = window.whatif
    panel.set_action("partial_close")
    panel.close_price.setValue(70_000.0)
    panel.close_qty.spin.setValue(2.0)
    # 3 BTC left, margin 3 x 68,000 / 10 = 20,400; notional 204,000 is tier 2 (MMR 0.5 %): MM 1,020;
    # LP = 68,000 - (20,400 - 1,020) / 3 = 61,540.
    assert panel.cell("liquidation_price", 1) == "61,540.0"
    panel.apply_button.click()
    assert window.session.position.qty_base == pytest.approx(3.0)
    # Released margin 13,600 + PnL 2 x 2,000 = 17,600 back to the free balance.
    assert window.session.account.wallet_usd == pytest.approx(37_600.0)
    window.act_undo.trigger()
    panel.set_action("add_to_position")
    panel.add_price.setValue(70_000.0)
    panel.add_qty.spin.setValue(2.0)
    # 7 BTC at (340,000 + 140,000) / 7; margin 48,000; tier 3 (MMR 1 %): MM 4,800;
    # LP = 480,000/7 - 43,200/7 = 436,800 / 7 = 62,400.
    assert panel.cell("liquidation_price", 1) == "62,400.0"
    panel.add_qty.spin.setValue(5.0)  # needs 35,000 of margin; the free balance is 20,000
    assert "allowed up to" in panel.message.text() and not panel.apply_button.isEnabled()


def test_a_short_at_its_entry_shows_no_negative_zero_and_cross_arithmetic_has_numbers(window):
    # issue 9: "-0.00" uPnL on a short with mark = entry (s * q * (m - e) is -0.0 for a short);
    # the bankruptcy tooltip of a cross position read "95,000 - wallet + others' uPnL / 0.5".
    s = window.session
    s.edit_position(0, side="short", mode="cross")
    s.set_wallet(20_650.0)
    assert s.position_quote.unrealized_pnl == 0.0
    assert window.results.values["unrealized_pnl"].text().startswith("0.00")
    tip = window.results.values["bankruptcy_price"].toolTip()
    # BP = 68,000 + (wallet 20,650 + others' uPnL 0) / 5 = 72,130
    assert "68,000 + (20,650 + 0) / 5 = 72,130" in tip, tip
    assert "wallet + others' uPnL / " not in tip


def test_whatif_previews_say_what_matters(window):
    # issue 9: a partial close showed no realised PnL and ignored its price; adding showed no new
    # size or average entry; a what-if on one cross position moved the others' LPs silently.
    panel = window.whatif
    panel.set_action("partial_close")
    panel.close_qty.spin.setValue(2.0)
    panel.close_price.setValue(70_000.0)
    assert "Realised PnL +4,000.00 USDT at 70,000.0" in panel.outcome.text()  # 2 x (70,000 - 68,000)
    panel.close_price.setValue(67_000.0)
    assert "Realised PnL -2,000.00 USDT at 67,000.0" in panel.outcome.text()
    assert panel.cell("qty", 0) == "5" and panel.cell("qty", 1) == "3" and panel.cell("qty", 2) == "-2"
    panel.set_action("add_to_position")
    panel.add_price.setValue(70_000.0)
    panel.add_qty.spin.setValue(2.0)
    # average entry (5 x 68,000 + 2 x 70,000) / 7 = 68,571.43
    assert panel.cell("entry", 1) == "68,571.4" and panel.cell("qty", 1) == "7"
    assert "New size 7, average entry 68,571.4" in panel.outcome.text()
    # two cross positions: adding to one moves the other's liquidation price, and the panel says so
    s = window.session
    s.edit_position(0, mode="cross")
    s.set_position_mode("hedge")
    s.add_position()  # the short leg
    s.edit_position(1, qty=1.0)
    s.set_wallet(100_000.0)  # the cross initial margins (34,000 + 6,800) leave room to add
    s.select(0)
    panel.set_action("add_to_position")
    panel.add_price.setValue(68_000.0)
    panel.add_qty.spin.setValue(0.1)
    other_before = s.quote.positions[1].liquidation_price
    text = panel.outcome.text()
    assert panel.message.isHidden(), panel.message.text()
    assert "Also moves #2 short BTCUSDT" in text and fmt.price(other_before, s.tick) in text
    # both cross legs of BTCUSDT share one liquidation price (core solves them jointly), and the
    # preview says that is why the other leg moves
    assert s.quote.positions[0].liquidation_price == other_before and s.quote.positions[0].shares_lp_with == (1,)
    assert "(the other leg: in cross both legs of a symbol share one liquidation price" in text


def test_removing_a_position_drops_its_orders_and_renumbers_the_later_ones(session):
    # The orders live in the typed simulation section (Scenario.simulation.actions): a stop on
    # position 0 and one on position 1; removing position 0 drops the first and makes the second
    # position 0's. Undo brings both back.
    from core.model import Position, Side
    from core.simspec import ActionKind

    session.set_position_mode("hedge")
    session.add_position(Position("BTCUSDT", Side.SHORT, 1, 68_000, 10))
    session.set_order("stop_loss", 60_000.0, index=0)
    session.set_order("stop_loss", 70_000.0, index=1)
    assert session.orders(0) == {"stop_loss": 60_000.0} and session.orders(1) == {"stop_loss": 70_000.0}
    session.remove_position(0)
    acts = session.scenario.simulation.actions
    assert [(a.kind, a.position, a.value) for a in acts] == [(ActionKind.STOP_LOSS, 0, 70_000.0)]
    assert session.orders(0) == {"stop_loss": 70_000.0}
    session.undo_stack.undo()
    assert session.orders(0) == {"stop_loss": 60_000.0} and session.orders(1) == {"stop_loss": 70_000.0}


def test_a_message_under_a_field_is_read_whole(window, qtbot):
    # issue 9: the leverage error under its field was cut off, the allowed range invisible
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    window.form.leverage.setValue(80.0)
    err = window.form.errors["leverage"]
    from PySide6.QtWidgets import QApplication

    for _ in range(3):  # the layout settles in posted events
        QApplication.processEvents()
    assert err.height() >= err.heightForWidth(err.width())
    assert "allowed 1-50" in err.text()
    window.form.leverage.setValue(10.0)  # gone again: nothing left reserved
    assert err.isHidden()


@pytest.mark.parametrize("side", ["long", "short"])
def test_the_liquidation_and_bankruptcy_labels_never_stack(window, qtbot, side):
    # issue 9: at 20x the LP and BP labels were drawn on top of each other. Hand derivation, classic,
    # 5 BTC at 68,000, 20x: margin 17,000, MM 3,400; long LP = 68,000 - 13,600 / 5 = 65,280 and
    # BP = 68,000 - 17,000 / 5 = 64,600 (a short mirrors: 70,720 and 71,400), 680 apart.
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    window.form.side.setCurrentIndex(window.form.side.findText(side.capitalize()))
    window.form.leverage.setValue(20.0)
    from PySide6.QtWidgets import QApplication

    for _ in range(3):
        QApplication.processEvents()
    chart = window.chart
    lp, bp = chart.liq_line.value(), chart.bankrupt_line.value()
    assert abs(lp - bp) == pytest.approx(680.0)
    # zoomed out, 680 is a few pixels: two labels on the same side of their lines would overlap
    chart.follow_box.setChecked(False)
    chart.plot.getViewBox().setYRange(0.0, 140_000.0, padding=0)
    for _ in range(3):
        QApplication.processEvents()
    liq = chart.liq_line.label.sceneBoundingRect()
    bank = chart.bankrupt_line.label.sceneBoundingRect()
    assert liq.isValid() and bank.isValid()
    assert not liq.intersects(bank)
    # a long's liquidation label above the bankruptcy label (scene y grows downwards); a short's below
    assert (liq.center().y() < bank.center().y()) == (side == "long")


def test_the_wallet_line_says_what_it_holds_with_the_cores_numbers(window):
    # issue 9 item 15: "Wallet" excluded isolated margins unlike an exchange's wallet balance.
    s = window.session
    q = s.quote
    label = window.table.account_label
    # FAQ example: wallet 20,000 outside the position, isolated margin 34,000 -> balance 54,000
    assert (s.account.wallet_usd, q.isolated_margins, q.wallet_balance) == (20_000.0, 34_000.0, 54_000.0)
    assert label.text().startswith(
        f"Wallet balance {fmt.money(q.wallet_balance)} {s.settle_ccy} = wallet {fmt.money(s.account.wallet_usd)} "
        f"+ isolated margins {fmt.money(q.isolated_margins)}")
    assert "isolated" in label.toolTip() and "cross collateral" in label.toolTip()
    assert "isolated" in window.form.fields["wallet"].toolTip()
