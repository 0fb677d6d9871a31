"""Alerts during playback: the margin ratio and the distance to liquidation crossing their thresholds.

The feed is a replayed CSV stepped explicitly (``session.live.advance``); nothing waits on time.
"""
from __future__ import annotations

from gui import settings as S
from gui.widgets.settings_dialog import SettingsDialog


def _falling_csv(tmp_path, start: float = 68_000.0, end: float = 61_950.0, n: int = 61):
    # The example position (5 BTC long at 68,000, 10x isolated, classic: margin 34,000, MM 3,400,
    # LP 61,880). Margin ratio = 3,400 / (34,000 + 5 x (P - 68,000)): 50 % at P = 62,560, 80 % at
    # 62,050. Distance (P - 61,880) / P = 5 % at P = 65,136.8. The path stops above the LP.
    path = tmp_path / "fall.csv"
    rows = ["timestamp,price"] + [f"{i},{start + (end - start) * i / (n - 1):.2f}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_each_threshold_alerts_once_as_it_is_crossed(window, tmp_path):
    s = window.session
    s.load_price_csv(_falling_csv(tmp_path))
    got: list[str] = []
    window.alerts.alerted.connect(got.append)
    for _ in range(60):
        s.live.advance(1)
    assert [t.split(":")[1].split()[0] for t in got] == ["distance", "margin", "margin"]
    assert "fell below 5.0 %" in got[0] and "crossed 50 %" in got[1] and "crossed 80 %" in got[2]
    assert [e.detail for e in s.events if e.kind == "alert"] == got
    assert "Alert:" in window.statusBar().currentMessage()  # no tray offscreen: the status bar says it
    assert not s.live.liquidations  # the path stays above the liquidation price


def test_a_reset_rearms_without_a_word(window, tmp_path):
    s = window.session
    s.load_price_csv(_falling_csv(tmp_path))
    got: list[str] = []
    window.alerts.alerted.connect(got.append)
    s.live.advance(60)
    n = len(got)
    s.reset_feed()  # back to 68,000: nothing is crossed going back
    assert len(got) == n
    s.live.advance(60)
    assert len(got) == 2 * n  # and the same crossings again


def test_the_thresholds_are_settings(window, qtbot, tmp_path):
    dlg = SettingsDialog(window.settings, window.session.profiles, window)
    qtbot.addWidget(dlg)
    assert [w.value() for w in dlg.ratio_spins] == [50.0, 80.0] and dlg.distance.value() == 5.0
    dlg.ratio_spins[0].setValue(60.0)
    dlg.ratio_spins[1].setValue(0.0)  # off
    dlg.distance.setValue(0.0)
    dlg.apply()
    assert window.settings.get(S.ALERT_MARGIN_RATIOS) == (0.6,) and window.settings.get(S.ALERT_DISTANCES) == ()
    window.alerts.configure(ratio_levels=window.settings.get(S.ALERT_MARGIN_RATIOS),
                            distance_levels=window.settings.get(S.ALERT_DISTANCES), enabled=True)
    s = window.session
    s.load_price_csv(_falling_csv(tmp_path))
    got: list[str] = []
    window.alerts.alerted.connect(got.append)
    s.live.advance(60)
    assert len(got) == 1 and "crossed 60 %" in got[0]
    window.alerts.configure(ratio_levels=(0.6,), distance_levels=(), enabled=False)
    s.reset_feed()
    s.live.advance(60)
    assert len(got) == 1  # alerts off


def test_stored_thresholds_are_checked(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"alert_margin_ratios": [0.8, 1.5], "alert_distances": [0.1]}')
    st = S.Settings.load(path)
    assert st.get(S.ALERT_MARGIN_RATIOS) == (0.5, 0.8)  # refused: 1.5 is no ratio below 100 %
    assert "alert_margin_ratios" in st.problem and st.get(S.ALERT_DISTANCES) == (0.1,)
