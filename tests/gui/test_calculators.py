"""The Calculator tab: results equal core's, bad input is marked in place and changes nothing."""
from __future__ import annotations

from core import calculators as calc
from core import fmt, whatif
from core.model import Side
from gui.widgets.calculators import QtCalculatorPanel


def _panel(qtbot, session) -> QtCalculatorPanel:
    w = QtCalculatorPanel(session)
    qtbot.addWidget(w)
    return w


def test_prefilled_from_the_selected_position(qtbot, session):
    w = _panel(qtbot, session)
    p = session.position
    assert Side(w.side.currentData()) is p.side
    assert float(w.fields["qty"].text()) == p.qty_base and float(w.fields["entry"].text()) == p.entry_price
    assert float(w.fields["leverage"].text()) == p.leverage
    assert w.fills.rowCount() == 1 and w.result("avg_price") == fmt.price(p.entry_price, session.tick)
    assert all(w.error(s) == "" for s in ("pnl", "target", "max_open", "risk", "average"))


def test_results_match_core(qtbot, session):
    w = _panel(qtbot, session)
    w.fields["exit_price"].setText("71400")
    # 5 BTC long at 68,000, 10x: +3,400 x 5 = 17,000 on 34,000 -> 50 % (core.whatif doctest)
    pnl, roe = whatif.pnl_and_roe_at_exit(side=1, qty=5, entry=68_000, exit_price=71_400, leverage=10)
    assert w.result("pnl") == fmt.money(pnl) == "17,000.00"
    assert w.result("roe") == fmt.pct(roe) == "50.00 %"
    w.fields["roe"].setText("-30")
    target = whatif.target_price_for_roe(side=1, entry=68_000, leverage=10, roe=-0.30)
    assert w.result("target_price") == fmt.price(target, session.tick) == "65,960.0"  # 68,000 x (1 - 0.03)
    w.side.setCurrentIndex(w.side.findData(Side.SHORT.value))
    assert w.result("pnl") == "-17,000.00"
    w.fields["balance"].setText("1000")
    w.fields["price"].setText("100000")
    w.fields["leverage"].setText("20")
    m = calc.max_open(session.profile, session.position.symbol, balance=1_000, leverage=20, price=100_000)
    assert w.result("max_qty") == fmt.num(m.qty) and w.result("max_cost") == fmt.money(m.cost)
    w.include_fee.setChecked(False)
    m = calc.max_open(session.profile, session.position.symbol, balance=1_000, leverage=20, price=100_000,
                      include_fee=False)
    assert w.result("max_qty") == fmt.num(m.qty)
    w.fields["risk"].setText("2")
    w.fields["stop"].setText("70000")
    # 2 % of 1,000 = 20 over |68,000 - 70,000| = 2,000 -> 0.01, a short (stop above the entry)
    assert w.result("risk_qty") == fmt.num(0.01) and w.result("risk_side") == "short"
    assert w.result("risk_loss") == "20.00"
    w.add_fill_row("70000", "5")
    w.add_fill_row("66000", "10")
    # (5 x 68,000 + 5 x 70,000 + 10 x 66,000) / 20 = 1,350,000 / 20 = 67,500
    a = calc.average_entry([68_000, 70_000, 66_000], [5, 5, 10])
    assert w.result("avg_price") == fmt.price(a.price, session.tick) == "67,500.0"
    assert w.result("avg_qty") == "20"


def test_bad_input_marked_in_place_and_state_unchanged(qtbot, session):
    w = _panel(qtbot, session)
    before = session.scenario
    good_max = w.result("max_qty")
    w.fields["qty"].setText("five")
    assert w.is_marked("qty") and w.fields["qty"].property("invalid") is True
    assert "border" in w.fields["qty"].styleSheet()
    assert w.error("pnl").startswith("qty:") and "> 0" in w.error("pnl")
    assert w.result("pnl") == fmt.NONE_TEXT
    assert w.result("max_qty") == good_max  # the other sections keep working
    w.fields["leverage"].setText("500")  # Binance-style cap: the contract's maximum leverage
    assert w.is_marked("leverage")
    assert f"in [1, {session.profile.contract(session.position.symbol).max_leverage:g}]" in w.error("target")
    w.fields["roe"].setText("-2000")  # a long at 10x... but leverage is refused first; fix it
    w.fields["leverage"].setText("10")
    assert "above -1,000 %" in w.error("target") and w.is_marked("roe")
    w.fields["stop"].setText(w.fields["entry"].text())
    assert "equals the entry" in w.error("risk")
    w.set_fill(0, "68000", "-1")
    assert w.is_marked("fills[0].qty") and "fills[0].qty" in w.error("average")
    assert w.fills.item(0, 1).toolTip() != ""
    w.fields["qty"].setText("5")
    assert not w.is_marked("qty") and w.fields["qty"].styleSheet() == "" and w.result("pnl") != fmt.NONE_TEXT
    assert session.scenario is before and not session.file.is_modified()


def test_follows_the_session(qtbot, session):
    w = _panel(qtbot, session)
    session.edit_position(0, qty=2.0, entry=60_000.0)
    assert w.fields["qty"].text() == "2" and w.fields["entry"].text() == "60000"
    w.fields["qty"].setText("3")
    w.from_position.click()
    assert w.fields["qty"].text() == "2"
