"""Funding and fees in the window: the live feed pays funding at each interval of feed time, the
results show the fee-inclusive break-even and net uPnL, the what-if holds for N days, the
calculators give gross and net. Every number is checked against core's own."""
from __future__ import annotations

import numpy as np
import pytest

from core import calculators, whatif
from core.fees import order_fee_rates
from core.funding import intervals_to_liquidation
from core.quote import quote_account
from gui.widgets.calculators import QtCalculatorPanel

H8 = 8 * 3_600.0


@pytest.fixture
def flat_csv(tmp_path):
    """The FAQ position's mark standing at 68,000 for 400 hours, one point an hour."""
    path = tmp_path / "flat.csv"
    rows = ["timestamp,price"] + [f"{h * 3_600},68000" for h in range(401)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def play_until(s, t_s: float, *, limit: int = 5_000) -> None:
    for _ in range(limit):
        if s.live.feed.last_t >= t_s or not s.live.playing:
            return
        s.live.step_frame()


def test_the_live_feed_pays_funding_into_the_isolated_margin_and_moves_the_lp(window, flat_csv):
    s = window.session
    s.load_price_csv(flat_csv)
    s.live.set_speed(60)  # one point of the CSV (an hour) per frame
    lp0 = s.position_quote.liquidation_price
    seen = []
    s.live.fundingPaid.connect(seen.append)
    s.live.play()
    play_until(s, 3 * H8)
    s.live.pause()
    # the default rate, 0.01 % per 8 h (docs/domain.md §9.1): 5 x 68,000 x 0.0001 = 34 a payment,
    # from the classic profile's isolated margin (§9.2); three payments by 24 h
    assert [ev.t_s for ev in seen] == [H8, 2 * H8, 3 * H8]
    assert all(ev.booked.paid == (pytest.approx(34.0),) for ev in seen)
    k = len(seen)
    q = s.position_quote
    assert q.margin == pytest.approx(34_000 - 34 * k)
    assert q.position.funding_paid == pytest.approx(34 * k) == s.live.funding_paid(0)
    # entry basis: the LP rises by 34 / 5 per payment (§9.3), the quote is the engine's at that margin
    assert q.liquidation_price == pytest.approx(lp0 + 34 * k / 5)
    plan = s.scenario.account.positions[0]
    assert plan.margin_usd is None and plan.funding_paid == 0.0  # the feed never edits the plan
    assert window.chart.liq_line.value() == pytest.approx(q.liquidation_price)
    logged = [e for e in s.events if e.kind == "funding"]
    assert len(logged) == k and "paid 34.00 USDT" in logged[0].detail and "isolated margin" in logged[0].detail
    assert window.results.values["break_even_price"].text() != "--"
    # the status bar's clock: the next payment and its countdown
    nf = s.live.next_funding()
    assert nf.t_s == (k + 1) * H8 and nf.amount == pytest.approx(34.0)
    assert window.funding_label.text() == nf.describe(s.money(34.0, unit=True))
    # a reset forgets it
    s.reset_feed()
    assert s.position_quote.margin == pytest.approx(34_000) and not s.live.funding_events


def test_funding_alone_liquidates_in_the_feed_when_the_what_if_says(window, flat_csv):
    s = window.session
    s.set_funding_rate(0.002)  # 0.2 % per 8 h: 680 a payment
    s.load_price_csv(flat_csv)
    # core's answer: floor((34,000 - 3,400) / 680) + 1 = 46 payments
    res = whatif.hold_with_funding(s.profile, s.account_for_quote(), 0, 1, rate=0.002)
    n = res.funding.liquidation_intervals
    assert n == intervals_to_liquidation(equity=34_000, maintenance=3_400, payment=680) == 46
    seen = []
    s.live.liquidated.connect(seen.append)
    s.live.set_speed(86_400)
    s.live.play()
    play_until(s, 400 * 3_600.0)
    (ev,) = seen
    assert ev.t_s == n * H8 == res.funding.liquidation_days * 86_400
    assert ev.mark == 68_000.0 and ev.funding_paid == pytest.approx(46 * 680)
    assert "Funding had taken" in ev.describe(s.tick)
    assert s.live.feed.last_t == n * H8 and not s.live.playing


def test_results_show_the_break_even_and_net_upnl_from_core(window):
    s = window.session
    q = s.position_quote
    r = window.results.values
    assert r["break_even_price"].text() == "68,068.0"  # 340,170 / (5 x 0.9995), docs/domain.md §9.5
    assert r["net_unrealized_pnl"].text() == s.money(q.net_unrealized_pnl, unit=True) == "-340.00 USDT"
    assert "break-even" in r["break_even_price"].toolTip()


def test_the_hold_what_if_previews_and_applies(window):
    s = window.session
    panel = window.whatif
    panel.set_action("hold")
    panel.hold_days.setValue(3)
    panel.hold_rate.setValue(0.01)  # percent: 0.0001
    res = s.preview_result
    assert res is not None and res.action == "hold" and res.funding.intervals == 9
    assert res.after.liquidation_price == pytest.approx(61_880 + 306 / 5)
    assert panel.cell("liquidation_price", 1) == "61,941.2"
    assert "9 payments" in panel.outcome.text() and "day 300.33" in panel.outcome.text()
    panel.apply()
    p = s.scenario.account.positions[0]
    assert p.margin_usd == pytest.approx(34_000 - 306) and p.funding_paid == pytest.approx(306)
    s.undo_stack.undo()
    assert s.scenario.account.positions[0].funding_paid == 0.0
    # a hold that funding alone ends is refused, naming the day
    panel.set_action("hold")
    panel.hold_rate.setValue(1.0)  # 1 % per 8 h: 3,400 a payment, liquidated at payment 10
    panel.hold_days.setValue(30)
    panel.apply()
    assert not panel.message.isHidden() and "day 3.33" in panel.message.text()
    assert s.scenario.account.positions[0].funding_paid == 0.0


def test_the_workspace_funding_rate_is_an_undoable_edit(session):
    assert session.funding.rate == pytest.approx(0.0001) and session.funding_interval_h == 8.0
    session.set_funding_rate(0.0003)
    assert session.scenario.simulation.funding.rate == 0.0003 and session.funding.rate == 0.0003
    session.undo_stack.undo()
    assert session.scenario.simulation is None
    with pytest.raises(Exception) as e:
        session.set_funding_rate(0.2)
    assert "[-0.05, 0.05]" in str(e.value)


def test_calculators_give_gross_and_net(qtbot, session):
    calc_tab = QtCalculatorPanel(session)
    qtbot.addWidget(calc_tab)
    s = session
    f_open, f_close = order_fee_rates(s.profile, s.account.fees)
    calc_tab.fields["exit_price"].setText("71400")
    r = calculators.pnl_and_roe(side="long", qty=5, entry=68_000, exit_price=71_400, leverage=10,
                                open_rate=f_open, close_rate=f_close)
    assert calc_tab.result("pnl") == "17,000.00" and calc_tab.result("pnl_net") == f"{r.net_pnl:,.2f}" == "16,651.50"
    assert calc_tab.result("roe_net") == "48.98 %"
    calc_tab.fields["roe"].setText("50")
    assert calc_tab.result("target_price") == "71,400.0" and calc_tab.result("target_price_net") == "71,469.7"
    assert "0.050 % (taker)" in calc_tab.fee_note.text()
    assert calc_tab.result("risk_qty_net") != "--"


def test_preview_after_funding_applies_to_the_plan(window, flat_csv):
    # the feed's funding stays over the plan: an applied what-if changes the plan, and the window
    # then shows what the preview showed
    s = window.session
    s.load_price_csv(flat_csv)
    s.live.set_speed(60)
    s.live.play()
    play_until(s, 2 * H8)
    s.live.pause()
    res = s.preview("add_margin", amount=1_000.0)
    s.apply_preview()
    assert s.scenario.account.positions[0].margin_usd == pytest.approx(35_000.0)
    assert s.position_quote.liquidation_price == pytest.approx(res.after.liquidation_price)
    assert quote_account(s.profile, s.account_for_quote()).positions[0].margin == pytest.approx(res.after.margin)
    assert np.isfinite(res.after.break_even_price)
