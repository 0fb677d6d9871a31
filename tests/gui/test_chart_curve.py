"""The live chart draws the feed's min/max envelope for its view, and raw points once zoomed in.

Assertions are on ``curve.getData()`` and the view's range, never on pixels (STYLE.md §13). The
envelope itself is checked against brute force in test_decimate.py; here the chart must hand the
curve exactly the envelope of the feed's history for the range it shows, as the feed grows, as the
user zooms, and after a liquidation cut the stream.
"""
from __future__ import annotations

import numpy as np
import pytest

from gui.decimate import envelope, visible_span


def view_x(chart):
    (x0, x1), _ = chart.plot.getPlotItem().getViewBox().viewRange()
    return x0, x1


def expected_curve(chart):
    feed = chart.session.live.feed
    t, y = feed.view()
    x0, x1 = view_x(chart)
    return envelope(t, y, feed.pyramid, x0, x1, chart._columns())


def assert_curve_is_the_envelope(chart):
    got_t, got_y = chart.curve.getData()
    want_t, want_y = expected_curve(chart)
    assert np.array_equal(got_t, want_t) and np.array_equal(got_y, want_y)


def test_following_the_feed_draws_the_envelope_of_the_latest_window(window):
    s, chart = window.session, window.chart
    s.live.feed.fill_history(300_000)
    for _ in range(5):
        s.live.step_frame()
        assert_curve_is_the_envelope(chart)
    x0, x1 = view_x(chart)
    assert x0 < s.live.feed.last_t < x1  # following: the latest mark is in view
    got_t, got_y = chart.curve.getData()
    assert len(got_t) <= 2 * chart._columns() + 2
    # The lowest and highest mark in view are drawn (the y range must hold them too).
    t, y = s.live.feed.view()
    seen = y[(t >= x0) & (t <= x1)]
    assert got_y.min() == seen.min() and got_y.max() == seen.max()
    _, (y0, y1) = chart.plot.getPlotItem().getViewBox().viewRange()
    assert y0 < seen.min() and seen.max() < y1


def test_zooming_into_a_small_window_draws_the_raw_points(window):
    s, chart = window.session, window.chart
    s.live.feed.fill_history(200_000)
    s.live.advance(1)
    vb = chart.plot.getPlotItem().getViewBox()
    vb.setXRange(50_000.0, 50_300.0, padding=0)  # 300 simulated seconds: ~300 points
    chart.follow_box.setChecked(False)
    x0, x1 = view_x(chart)
    t, y = s.live.feed.view()
    i0, i1 = visible_span(t, x0, x1)
    got_t, got_y = chart.curve.getData()
    assert np.array_equal(got_t, t[i0:i1]) and np.array_equal(got_y, y[i0:i1])
    # The feed goes on while the user looks elsewhere: the zoomed view stays, and stays raw.
    s.live.advance(600)
    assert view_x(chart) == (x0, x1)
    assert_curve_is_the_envelope(chart)
    # Zooming out again draws the envelope of the wider range.
    vb.setXRange(0.0, s.live.feed.last_t, padding=0)
    assert_curve_is_the_envelope(chart)
    assert len(chart.curve.getData()[0]) < len(t) // 10


def test_view_all_ranges_over_the_whole_history_from_the_pyramid(window):
    s, chart = window.session, window.chart
    s.live.feed.fill_history(100_000)
    s.live.advance(1)
    chart.follow_box.setChecked(False)
    vb = chart.plot.getPlotItem().getViewBox()
    vb.autoRange(padding=0)  # what "View all" and the "A" button do
    t, y = s.live.feed.view()
    (x0, x1), (y0, y1) = vb.viewRange()
    # The whole history, give or take the pen's pixel of padding pyqtgraph adds.
    span_t, span_y = t[-1], y.max() - y.min()
    assert x0 == pytest.approx(0.0, abs=0.005 * span_t) and x1 == pytest.approx(t[-1], abs=0.005 * span_t)
    assert y0 == pytest.approx(y.min(), abs=0.01 * span_y) and y1 == pytest.approx(y.max(), abs=0.01 * span_y)
    assert chart.curve.dataBounds(1) == (y.min(), y.max())
    assert_curve_is_the_envelope(chart)


def test_after_a_liquidation_cut_the_curve_ends_at_the_liquidation(window, qtbot, tmp_path):
    # A falling line, 80 per second from 68,000: the classic LP 61,880 is first crossed at t=77.
    path = tmp_path / "crash.csv"
    path.write_text("timestamp,price\n" + "\n".join(f"{i},{68_000 - 80 * i}" for i in range(800)) + "\n",
                    encoding="utf-8")
    s = window.session
    s.load_price_csv(path)
    s.live.advance(700)  # one big step: the stream is cut back at the crossing
    assert s.live.liquidations and s.live.feed.n == 78
    assert_curve_is_the_envelope(window.chart)
    t, y = window.chart.curve.getData()
    assert (t[-1], y[-1]) == (77.0, 61_840.0)
    xs, ys = window.chart.liq_marker.getData()
    assert list(xs) == [77.0] and list(ys) == [61_840.0]
