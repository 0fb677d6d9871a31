"""Playback: the streamed mark crosses the liquidation price and the liquidation shows up.

The replayed CSV falls in a straight line from 68,000 at t=0 to 60,000 at t=100 (80 per second),
so the first point at or below the classic LP of 61,880 (docs/domain.md §5) is t=77, mark
68,000 - 77 x 80 = 61,840 (t=76 gives 61,920, still above).
"""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def crash_csv(tmp_path):
    path = tmp_path / "crash.csv"
    t = np.arange(101)
    rows = ["timestamp,price"] + [f"{int(x)},{68_000 - 80 * int(x)}" for x in t]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_playback_crosses_the_liquidation_price_and_the_liquidation_appears(window, qtbot, crash_csv):
    s = window.session
    s.load_price_csv(crash_csv)
    s.live.set_speed(60)  # one point per frame of 1/60 s
    seen = []
    s.live.liquidated.connect(seen.append)
    s.live.play()
    for _ in range(200):  # frames stepped here, never waited for
        if seen:
            break
        s.live.step_frame()
    (ev,) = seen
    assert (ev.t_s, ev.mark) == (77.0, 61_840.0)
    assert ev.fill_price == pytest.approx(61_200.0)  # booked at the bankruptcy price
    assert ev.loss == pytest.approx(34_000.0)  # isolated: the whole margin, 5 x (68,000 - 61,200)
    assert not s.live.playing  # the stream stops at the liquidation
    xs, ys = window.chart.liq_marker.getData()
    assert list(xs) == [77.0] and list(ys) == [61_840.0]
    t, y = window.chart.curve.getData()
    assert t[-1] == 77.0 and y[-1] == 61_840.0
    assert window.chart.fill_line.isVisible() and window.chart.fill_line.value() == pytest.approx(61_200.0)
    assert window.chart.fill_line.label.toPlainText() == "fill 61,200.0"
    assert window.chart.liq_line.label.toPlainText() == "liquidation 61,880.0"
    assert window.results.values["fill_price"].text() == "61,200.0"
    status = window.results.status.text()
    assert "bankruptcy price 61,200.0" in status and "loss 34,000.00" in status
    assert window.table.table.item(0, 6).text() == "liquidated"
    assert any(e.kind == "liquidation" for e in s.events)
    # Reset clears it and starts again from the scenario's mark.
    s.reset_feed()
    assert s.live.feed.n == 1 and window.chart.liq_marker.getData()[0].size == 0
    assert window.results.values["fill_price"].text() == "--"


def test_simulated_feed_is_seeded_and_streams_into_the_chart(session):
    session.live.advance(5_000)
    t1, y1 = (a.copy() for a in session.live.feed.view())
    session.reset_feed()
    session.live.advance(2_000)
    session.live.advance(3_000)  # same points however they are chunked
    t2, y2 = session.live.feed.view()
    assert np.array_equal(t1, t2) and np.array_equal(y1, y2)
    assert y1[0] == 68_000.0 and np.all(np.diff(t1) == 1.0)
    assert session.position_quote.mark == y1[-1]  # results follow the stream


def test_million_points_of_history_stay_in_one_buffer(window):
    s = window.session
    s.live.feed.fill_history(1_000_000)
    s.live.advance(1)
    t, _y = window.chart.curve.getData()
    # What is drawn is the followed window's envelope, a few points per pixel, not the million.
    assert s.live.feed.n >= 1_000_000
    assert 0 < len(t) <= 2 * window.chart._columns() + 2


def test_a_cross_position_is_liquidated_against_the_wallet(window, qtbot, crash_csv):
    s = window.session
    window.form.mode.setCurrentIndex(window.form.mode.findData("cross"))
    # Cross on the 20,000 wallet, classic rules: LP = 68,000 - (20,000 - 3,400) / 5 = 64,680,
    # BP = 68,000 - 20,000 / 5 = 64,000. The crash line (80 per second) first reaches 64,680 or
    # below at t=42 (mark 64,640; t=41 gives 64,720).
    assert window.results.values["liquidation_price"].text() == "64,680.0"
    s.load_price_csv(crash_csv)
    s.live.set_speed(3_600)  # 60 points per frame: the crossing lies inside the first frame
    seen = []
    s.live.liquidated.connect(seen.append)
    s.live.step_frame()
    (ev,) = seen
    assert ev.cross and (ev.t_s, ev.mark) == (42.0, 64_640.0)
    assert ev.fill_price == pytest.approx(64_000.0)
    assert ev.loss == pytest.approx(20_000.0)  # the cross collateral: 5 x (68,000 - 64,000)
    assert "the cross collateral" in window.results.status.text()


def test_a_stop_loss_fires_in_the_live_feed_as_the_simulator_fires_it(window, tmp_path):
    # issue 9: a long at 95,000 with a stop at 88,000: the mark crossed 88,000 and nothing happened.
    # Binance, 0.5 BTC long at 95,000, 10x: LP about 85,900, so the stop comes first. The replayed
    # price falls 100 a second from 95,000: the first price at or below 88,000 is 88,000 itself, t=70.
    from core.model import Account, Position, Side
    from core.prices import read_price_csv
    from core.scenario import Scenario
    from core.simspec import Action, ActionKind
    from core.simulate import simulate

    s = window.session
    acct = Account("binance", 10_000, (Position("BTCUSDT", Side.LONG, 0.5, 95_000, 10),), {"BTCUSDT": 95_000})
    s.file.new_workspace(Scenario("binance", acct))
    s.set_order("stop_loss", 88_000.0)
    path = tmp_path / "fall.csv"
    path.write_text("timestamp,price\n" + "".join(f"{t},{95_000 - 100 * t}\n" for t in range(101)), encoding="utf-8")
    s.load_price_csv(path)
    fills = []
    s.live.orderFilled.connect(fills.append)
    s.live.set_speed(3_600)
    s.live.play()
    s.live.step_frame()
    s.live.step_frame()
    (fill,) = fills
    assert fill.kind == "stop_loss" and fill.t_s == 70.0 and fill.close.price == 88_000.0
    # realised PnL 0.5 x (88,000 - 95,000) = -3,500; taker fee 0.05 % x 0.5 x 88,000 = 22
    assert fill.close.realized_pnl == pytest.approx(-3_500.0) and fill.close.fee == pytest.approx(22.0)
    assert not s.live.playing and s.live.is_closed(0) and not s.live.is_liquidated(0)
    assert s.events[-1].kind == "stop-loss" and "realised PnL -3,500.00" in s.events[-1].detail
    assert window.table.table.item(0, 6).text() == "closed (stop-loss)"
    assert "Stop-loss at 88,000.0 fired" in window.results.status.text()
    # the simulator, same position, same path, same order: the same fill and the same PnL
    res = simulate(s.profile, acct, read_price_csv(path), actions=[Action(0, ActionKind.STOP_LOSS, 0, 88_000.0)])
    (red,) = res.events_of("position_reduced")
    assert (red.t, red.price, red.amount) == (fill.t_s, fill.close.price, fill.close.realized_pnl)
    assert red.detail["fee"] == pytest.approx(fill.close.fee)
