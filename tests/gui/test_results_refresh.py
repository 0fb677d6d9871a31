"""The results pane shows every new quote; the Arithmetic pane may lag the stream a little.

While only the streamed mark moves, the Arithmetic pane may lag by up to a tenth of a second
(gui/widgets/results.py, DETAILS_INTERVAL_S); an edit shows in it at once.
"""
from __future__ import annotations


def test_an_edit_rewrites_the_arithmetic_at_once(window):
    window.form.leverage.setValue(20.0)
    # 20x: IM = 5 x 68,000 / 20 = 17,000 (the classic profile, docs/domain.md §5)
    text = window.results.details.toPlainText()
    assert "5 x 68,000 / 20 = 17,000" in text
    window.form.leverage.setValue(10.0)  # and straight back: no lag either
    assert "5 x 68,000 / 10 = 34,000" in window.results.details.toPlainText()


def test_during_playback_the_arithmetic_ends_on_the_latest_mark(window, qtbot):
    s = window.session
    for _ in range(6):  # frames in quick succession
        s.live.advance(60)
    upnl = s.position_quote.explain["unrealized_pnl"]
    assert window.results.values["mark_price"].text() != "68,000.0"  # the numbers follow at once
    window.results.flush_details()  # what the pane's timer would do a tenth of a second later
    assert upnl in window.results.details.toPlainText()
