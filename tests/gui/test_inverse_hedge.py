"""Inverse contracts and hedge mode in the window: every number shown is core's, in the right asset.

Golden values are hand derivations (written beside each) on the shipped profiles; the rest is
compared with the core call the widget claims to show.
"""
from __future__ import annotations

import pytest

from core import fmt
from core.margin import position_pnl_at_exit, quote_value
from core.model import Account, MarginMode, Position, PositionMode, Side
from core.scenario import Scenario
from gui.widgets.payoff import QtPayoffView
from gui.widgets.results import ROWS

# Binance COIN-M BTCUSD_PERP: 100 USD a contract, settles in BTC, tick 0.1 (resources/exchanges/binance-coinm.toml)
INVERSE_LONG = Position("BTCUSD_PERP", Side.LONG, 1_000, 60_000.0, 10)


def _open(window, scenario: Scenario):
    window.session.file.new_workspace(scenario)
    return window.session


def _inverse(window):
    acct = Account("binance-coinm", 1.0, (INVERSE_LONG,), {"BTCUSD_PERP": 60_000.0})
    return _open(window, Scenario(exchange="binance-coinm", account=acct))


def _hedged_pair(window):
    # the example: 15,000 USDT cross wallet, BTCUSDT long 4 @ 60,000 and short 2 @ 61,000, mark 58,000
    acct = Account("binance", 15_000.0, (Position("BTCUSDT", Side.LONG, 4, 60_000.0, 10, MarginMode.CROSS),
                                         Position("BTCUSDT", Side.SHORT, 2, 61_000.0, 10, MarginMode.CROSS)),
                   {"BTCUSDT": 58_000.0}, position_mode=PositionMode.HEDGE)
    return _open(window, Scenario(exchange="binance", account=acct))


def test_inverse_form_sizes_in_contracts_and_amounts_in_the_coin(window):
    s = _inverse(window)
    form = window.form
    assert [form.size_unit.itemText(i) for i in range(form.size_unit.count())] == ["contracts", "USD"]
    assert form.size_field.value() == 1_000.0
    assert form.contract_info.text() == "inverse, 100 USD each, in BTC"
    assert "size is in contracts, margin, wallet and PnL are in BTC" in form.contract_info.toolTip()
    assert form.wallet.suffix() == " BTC" and form.wallet.decimals() == 8 and form.margin.suffix() == " BTC"
    assert "1,000 contracts x 100 USD = 100,000 USD" in form.size_field.toolTip()
    # the USD value: contracts x size (core.margin.quote_value), whatever the price
    form.size_unit.setCurrentIndex(1)
    assert form.size_field.value() == quote_value(s.profile.contract("BTCUSD_PERP"), 1_000, 60_000.0) == 100_000.0
    form.size_field.setValue(50_000.0)  # 50,000 USD = 500 contracts of 100 USD
    assert s.position.qty_base == 500.0
    s.undo_stack.undo()
    assert s.position.qty_base == 1_000.0 and form.size_field.value() == 100_000.0
    form.size_unit.setCurrentIndex(0)
    # a refused size is marked under its field, and nothing changes
    before = s.scenario
    form.size_field.setValue(0.0)
    assert form.error_text("qty") and s.scenario == before


def test_inverse_results_whatif_and_account_table_in_btc(window):
    s = _inverse(window)
    q = s.position_quote
    assert q.settle_asset == "BTC"
    r = window.results
    # IM = 1,000 x 100 / (60,000 x 10) = 0.16666667 BTC; uPnL 0 at the entry; prices stay in USD
    assert r.values["initial_margin"].text() == "0.16666667 BTC" == f"{fmt.amount(q.initial_margin, 'BTC')} BTC"
    for key in ("maintenance_margin", "unrealized_pnl", "equity"):
        assert r.values[key].text() == f"{fmt.amount(getattr(q, key), 'BTC')} BTC"
    assert r.values["liquidation_price"].text() == fmt.price(q.liquidation_price, 0.1)
    assert r.values["entry_price"].text() == "60,000.0"
    # tooltips and the Arithmetic pane carry core's coin arithmetic
    assert q.explain["initial_margin"] in r.values["initial_margin"].toolTip()
    r.flush_details()
    assert "contracts x size / (entry x leverage)" in r.details.toPlainText()
    # the what-if table's money rows and the account line are in BTC too
    panel = window.whatif
    assert panel.cell("initial_margin", 0) == fmt.amount(q.initial_margin, "BTC") == "0.16666667"
    panel.set_action("add_margin")
    assert panel.add_margin.spin.suffix() == " BTC" and panel.add_margin.spin.decimals() == 8
    panel.add_margin.spin.setValue(0.0125)
    res = s.preview_result
    assert res is not None and panel.cell("margin", 1) == fmt.amount(res.after.margin, "BTC")
    assert panel.cell("margin", 1) == "0.17916667"  # 100,000 / (60,000 x 10) = 0.16666667, + 0.0125
    assert "Free balance -0.01250000 BTC" in panel.outcome.text()
    label = window.table.account_label.text()
    assert label.startswith(f"Wallet balance {fmt.amount(s.quote.wallet_balance, 'BTC')} BTC")
    assert [ROWS[i][0] for i in range(2)] == ["entry_price", "mark_price"]


def test_inverse_payoff_curves_and_equals_core(qtbot, window):
    s = _inverse(window)
    view = QtPayoffView(s)
    qtbot.addWidget(view)
    pay = view.payoff
    xs, ys = view.curve.getData()
    assert list(ys) == list(position_pnl_at_exit(s.profile, s.position, xs))
    assert view.plot.getPlotItem().getAxis("left").labelText == "PnL (BTC)"
    assert view.plot.getPlotItem().getAxis("bottom").labelText == "exit price (USD)"
    # by hand, 100,000 USD x (1/60,000 - 1/P): 20 % down (48,000) loses 0.41666667 BTC, 20 % up (72,000)
    # gains only 0.27777778 BTC -- the long loses more coin per dollar the further the price falls
    assert view.move_cell(1, 2) == "-0.41666667" and view.move_cell(1, 3) == "+0.27777778"
    assert view.move_cell(0, 2) == "48,000.0" and view.move_cell(0, 3) == "72,000.0"
    lp = pay.levels["liquidation"]
    assert lp == (s.position_quote.liquidation_price, position_pnl_at_exit(s.profile, s.position, lp[0]))
    assert view.show_readout(50_000.0) == (
        f"exit 50,000.0: PnL {fmt.amount(float(position_pnl_at_exit(s.profile, s.position, 50_000.0)), 'BTC')} BTC"
        " (past the liquidation price: liquidated before this exit)")


def test_hedge_legs_in_cross_show_one_liquidation_price(window):
    s = _hedged_pair(window)
    table = window.table
    q0, q1 = s.quote.positions
    assert q0.shares_lp_with == (1,) and q1.shares_lp_with == (0,)
    assert q0.liquidation_price == q1.liquidation_price
    lp = fmt.price(q0.liquidation_price, 0.1)
    assert [table.table.item(r, 6).text() for r in range(2)] == [lp, lp]
    assert [table.table.item(r, 1).text() for r in range(2)] == ["long", "short"]
    assert table.note.text() == f"BTCUSDT: the cross legs #1 long and #2 short share one liquidation price, {lp}."
    assert "#2" in table.table.item(0, 6).toolTip() and "#1" in table.table.item(1, 6).toolTip()
    assert table.mode_combo.currentData() == "hedge"
    # the results of either leg show that price
    s.select(1)
    assert window.results.values["liquidation_price"].text() == lp
    # isolated, each leg has its own price again and the note goes
    s.edit_position(1, mode="isolated")
    assert table.note.text() == "" and table.note.isHidden()


def test_position_mode_change_is_undoable_and_a_refused_one_changes_nothing(window):
    s = window.session
    table = window.table
    stack = s.undo_stack
    n = stack.count()
    table.mode_combo.setCurrentIndex(table.mode_combo.findData("hedge"))
    assert s.account.position_mode is PositionMode.HEDGE and stack.count() == n + 1
    assert stack.undoText() == "Use hedge mode"
    stack.undo()
    assert s.account.position_mode is PositionMode.ONE_WAY and table.mode_combo.currentData() == "one_way"
    stack.redo()
    assert table.mode_combo.currentData() == "hedge"
    # with both legs of BTCUSDT held, one-way mode is refused with core's message, naming the field
    table.add_button.click()
    before, count = s.scenario, stack.count()
    table.mode_combo.setCurrentIndex(table.mode_combo.findData("one_way"))
    assert s.scenario == before and stack.count() == count
    assert table.mode_combo.currentData() == "hedge"
    assert table.message.text().startswith("position mode: one-way mode holds one position per symbol")
    assert "BTCUSDT" in table.message.text()


@pytest.mark.parametrize(("mode", "expected"), [
    # one-way: the next contract of the profile not held (binance lists BTCUSDT, then ETHUSDT, ...)
    ("one_way", ("ETHUSDT", Side.LONG)),
    # hedge: the selected symbol's other leg
    ("hedge", ("BTCUSDT", Side.SHORT)),
])
def test_add_follows_the_position_mode(window, mode, expected):
    s = window.session
    s.set_profile("binance")
    s.set_position_mode(mode)
    p0 = s.position
    s.add_position()
    new = s.position
    assert (new.symbol, new.side) == expected
    assert (new.qty_base, new.leverage, new.mode) == (p0.qty_base, p0.leverage, p0.mode)
    # no price is known for a symbol the workspace never held: the selected entry, to be edited
    assert new.entry_price == 68_000.0
    assert window.table.note.isHidden()  # Add through the session, not the button: no note


def test_compare_an_inverse_position_under_every_profile(qtbot, window):
    from core.compare import compare_in_account
    from gui.widgets.compare import QtCompareView

    s = _inverse(window)
    view = QtCompareView(s)
    qtbot.addWidget(view)
    rows = {r.profile.id: r for r in compare_in_account(s.profiles, s.account_for_quote(), 0)}
    assert [r.profile.id for r in view.comparison.rows] == list(rows)
    for pid, row in rows.items():
        if row.quote is not None:
            assert view.cell("initial_margin", pid) == fmt.amount(row.quote.initial_margin, row.settle_asset)
    assert view.cell("contract", "binance-coinm") == "BTCUSD_PERP (USD, margin in BTC)"
    assert view.cell("contract", "binance") == "BTCUSDT (USDT)"
    # the linear profiles hold the position converted by notional at entry (core), and a line says how
    lines = view.explanation_lines()
    assert any(line.startswith(f"binance: {rows['binance'].converted}") for line in lines)
    assert rows["binance"].converted.startswith("converted by notional at entry")


def test_calculators_follow_the_inverse_contract(qtbot, window):
    from core import calculators as calc
    from gui.widgets.calculators import QtCalculatorPanel

    s = _inverse(window)
    contract = s.profile.contract("BTCUSD_PERP")
    w = QtCalculatorPanel(s)
    qtbot.addWidget(w)
    w.fields["exit_price"].setText("48000")
    # by hand: 100,000 USD x (1/60,000 - 1/48,000) = -0.41666667 BTC on a margin of 100,000 / (60,000 x 10)
    # = 0.16666667 BTC: ROE -250 % (the Payoff tab's -20 % column)
    r = calc.pnl_and_roe(side="long", qty=1_000, entry=60_000, exit_price=48_000, leverage=10, contract=contract)
    assert (w.result("pnl"), w.result("pnl_margin"), w.result("roe")) == (
        fmt.amount(r.pnl, "BTC"), fmt.amount(r.margin, "BTC"), fmt.pct(r.roe)) == ("-0.41666667", "0.16666667",
                                                                                  "-250.00 %")
    assert w.result("target_price") == fmt.price(calc.target_price(
        side="long", entry=60_000, leverage=10, roe_pct=float(w.fields["roe"].text()), contract=contract), 0.1)
    # after both taker fees (0.05 % each, market orders): in the frame x = x_e (1 - 0.0005 - 50 %/10) / 1.0005,
    # so the net target is 60,000 x 1.0005 / 0.9495 = 63,222.75 (core.calculators.target_price_net)
    assert w.fee_rates() == (0.0005, 0.0005) and w.fields["roe"].text() == "50"
    assert w.result("target_price_net") == fmt.price(calc.target_price_net(
        side="long", entry=60_000, leverage=10, roe_pct=50, open_rate=0.0005, close_rate=0.0005, contract=contract),
        0.1) == "63,222.7"
    # the average entry follows the contract: contracts average harmonically (Bybit's inverse example,
    # core.margin.average_entry_price: 50 contracts at 10,000 and 50 at 15,000 average 12,000)
    w.fills.item(0, 0).setText("10000")
    w.fills.item(0, 1).setText("50")
    w.add_fill_row("15000", "50")
    assert w.result("avg_price") == "12,000.0" and w.result("avg_qty") == "100"


def test_a_stop_filled_in_the_feed_books_coin_pnl(window):
    s = _inverse(window)
    s.set_order("stop_loss", 55_000.0)
    s.live._fill(0, "stop_loss", 55_000.0, 55_000.0, 10.0)  # what the feed does when the mark reaches it
    fill = s.live.fills[-1]
    # by hand: 1,000 x 100 USD x (1/60,000 - 1/55,000) = -0.15151515 BTC; taker fee 0.05 % x 100,000 / 55,000
    # = 0.00090909 BTC (core.orders.close_at on the inverse contract)
    assert fill.close.realized_pnl == pytest.approx(-0.15151515, abs=1e-8)
    assert fill.describe(0.1).endswith("realised PnL -0.15151515, fee 0.00090909 BTC.")


def test_inverse_and_hedge_views_never_widen_the_window(window):
    # tests/gui/test_app.py: the window fits 1024 x 700; contracts, coin amounts with 8 decimals, the
    # position mode and the Payoff tab must not raise its minimum size past that
    _inverse(window)
    window.form.size_unit.setCurrentIndex(1)
    window.tabs.setCurrentIndex([window.tabs.tabText(i) for i in range(window.tabs.count())].index("Payoff"))
    _hedged_pair(window)
    window.whatif.set_action("add_margin")
    hint = window.minimumSizeHint()
    assert hint.width() <= 1000 and hint.height() <= 680, hint


def test_moving_a_linear_workspace_to_an_inverse_exchange_is_refused_in_place(window):
    s, form = window.session, window.form
    before, count = s.scenario, s.undo_stack.count()
    form.profile.setCurrentIndex(form.profile.findData("binance-coinm"))
    assert s.scenario == before and s.undo_stack.count() == count
    assert "inverse" in form.error_text("profile") and "linear" in form.error_text("profile")
    # as every refused value of the form, the choice stays visible, marked, until the next edit or undo
    assert form.profile.currentData() == "binance-coinm" and s.scenario.exchange == "classic"


def test_switching_between_inverse_exchanges_keeps_the_usd_value(window):
    # 1,000 BTCUSD_PERP of 100 USD (binance-coinm) are 100,000 USD; on BitMEX, whose XBTUSD is 1 USD a
    # contract, that is 100,000 contracts, with the isolated margin and wallet in BTC as they were.
    s = _inverse(window)
    before = s.position
    assert (before.symbol, before.qty_base) == ("BTCUSD_PERP", 1_000.0)
    s.set_profile("bitmex")
    p = s.position
    assert (s.scenario.exchange, p.symbol, p.qty_base) == ("bitmex", "XBTUSD", 100_000.0)
    assert p.margin_usd == before.margin_usd and p.entry_price == before.entry_price
    s.undo_stack.undo()
    assert s.scenario.exchange == "binance-coinm" and s.position == before
