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
    s.set_speed(60)  # one point per frame
    with qtbot.waitSignal(s.liquidated, timeout=10_000) as blocker:
        s.play()
    ev = blocker.args[0]
    assert (ev.t_s, ev.mark) == (77.0, 61_840.0)
    assert ev.fill_price == pytest.approx(61_200.0)  # booked at the bankruptcy price
    assert ev.loss == pytest.approx(34_000.0)  # isolated: the whole margin, 5 x (68,000 - 61,200)
    assert not s.playing  # the stream stops at the liquidation
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
    assert s.feed.n == 1 and window.chart.liq_marker.getData()[0].size == 0
    assert window.results.values["fill_price"].text() == "--"


def test_simulated_feed_is_seeded_and_streams_into_the_chart(session):
    session.advance(5_000)
    t1, y1 = (a.copy() for a in session.feed.view())
    session.reset_feed()
    session.advance(2_000)
    session.advance(3_000)  # same points however they are chunked
    t2, y2 = session.feed.view()
    assert np.array_equal(t1, t2) and np.array_equal(y1, y2)
    assert y1[0] == 68_000.0 and np.all(np.diff(t1) == 1.0)
    assert session.position_quote.mark == y1[-1]  # results follow the stream


def test_million_points_of_history_stay_in_one_buffer(window):
    s = window.session
    s.feed.fill_history(1_000_000)
    s.advance(1)
    t, _y = window.chart.curve.getData()
    # What is drawn is the followed window's envelope, a few points per pixel, not the million.
    assert s.feed.n >= 1_000_000
    assert 0 < len(t) <= 2 * window.chart._columns() + 2


def test_a_cross_position_is_liquidated_against_the_wallet(window, qtbot, crash_csv):
    s = window.session
    window.form.mode.setCurrentIndex(window.form.mode.findData("cross"))
    # Cross on the 20,000 wallet, classic rules: LP = 68,000 - (20,000 - 3,400) / 5 = 64,680,
    # BP = 68,000 - 20,000 / 5 = 64,000. The crash line (80 per second) first reaches 64,680 or
    # below at t=42 (mark 64,640; t=41 gives 64,720).
    assert window.results.values["liquidation_price"].text() == "64,680.0"
    s.load_price_csv(crash_csv)
    s.set_speed(3_600)  # 60 points per frame: the crossing lies inside the first frame
    with qtbot.waitSignal(s.liquidated, timeout=10_000) as blocker:
        s.play()
    ev = blocker.args[0]
    assert ev.cross and (ev.t_s, ev.mark) == (42.0, 64_640.0)
    assert ev.fill_price == pytest.approx(64_000.0)
    assert ev.loss == pytest.approx(20_000.0)  # the cross collateral: 5 x (68,000 - 64,000)
    assert "the cross collateral" in window.results.status.text()
