"""The scenario theatre with real objects: a TheatreSession, the whole theatre widget, qtbot.

Expected outcomes are never typed in: they come from ``core.simulate.run_scenario`` called directly
on the same file (or from the lesson's own worked numbers, quoted where used).

Nothing here waits on real time: the session's playback clock is frozen and the tests step frames
themselves; what they wait for is a worker's signal (``qtbot.waitSignal``), and before they aim the
mouse at something they let Qt finish its pending layout (:func:`settle`).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMenu

from core import fmt
from core import timeline as core_timeline
from core.errors import InvalidInputError, ScenarioError
from core.model import MarginMode
from core.paths import scenarios_dir
from core.scenario import load_scenario
from core.simulate import Action, ActionKind, EventKind, run_scenario
from core.timeline import fan_spec, run_fan, with_actions
from gui.lessons import build_lessons_menu, list_lessons
from gui.theatre import TheatreSession
from gui.widgets.theatre_actions import COL_T
from gui.widgets.theatre_panels import FUTURE
from gui.widgets.theatre_view import QtTheatreView
from gui.widgets.theatre_window import QtTheatreWindow

pg.setConfigOptions(mouseRateLimit=-1)

LESSONS = sorted(p.name for p in scenarios_dir().glob("lesson-*.json"))


FRAME_S = 0.033


# An upper bound on a worker's run, not a pace: a signal that comes at once ends the wait at once. It
# is generous because the suite must pass while other jobs keep both cores busy.
WORKER_TIMEOUT_MS = 120_000


def frozen_clock() -> float:
    return 0.0  # the frame timer's real time never moves: only step_frame advances the playback


def settle() -> None:
    """Deliver the events Qt has posted (layout after a label shows or hides, the view's deferred
    auto-range and repaint), so that a widget is where a test aims the mouse. Not a wait on time."""
    for _ in range(3):
        QApplication.processEvents()


@pytest.fixture
def theatre(qtbot, profiles):
    session = TheatreSession(profiles, clock=frozen_clock)
    view = QtTheatreView(session)
    qtbot.addWidget(view)
    view.resize(1300, 850)
    view.show()
    qtbot.waitExposed(view)
    yield session, view
    session.close()


def open_lesson(qtbot, session: TheatreSession, name: str) -> Path:
    path = scenarios_dir() / name
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        session.open_file(path)
    return path


def dicts(events):
    return [e.as_dict() for e in events]


def test_lessons_are_the_shipped_files_with_their_story():
    lessons = list_lessons()
    assert [lesson.path.name for lesson in lessons] == LESSONS
    for lesson in lessons:
        sc = load_scenario(lesson.path)
        assert lesson.name == sc.name and lesson.description == sc.description and sc.description


def test_lessons_menu_opens_the_chosen_file(qapp):
    opened: list[Path] = []
    help_menu = QMenu("Help")
    menu = build_lessons_menu(help_menu, opened.append)
    acts = menu.actions()
    assert [a.text() for a in acts] == [lesson.name for lesson in list_lessons()]
    assert all(a.toolTip() for a in acts)
    acts[3].trigger()
    assert opened == [list_lessons()[3].path]


def test_a_broken_lesson_is_listed_with_its_problem(tmp_path):
    (tmp_path / "lesson-broken.json").write_text("{not json", encoding="utf-8")
    (lesson,) = list_lessons(tmp_path)
    assert lesson.name == "broken" and "cannot be read" in lesson.description


@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_plays_to_its_end_with_the_simulators_events(qtbot, theatre, profiles, name):
    session, view = theatre
    path = open_lesson(qtbot, session, name)
    direct = run_scenario(load_scenario(path), profiles, base_dir=path.parent)
    assert dicts(session.result.events) == dicts(direct.events)
    assert session.result.parties == direct.parties
    assert view.events.table.rowCount() == len(direct.events)
    tl = session.timeline
    assert session.cursor == tl.t0
    seen: list[float] = []
    session.cursorChanged.connect(seen.append)
    finished: list[bool] = []
    session.playbackFinished.connect(lambda: finished.append(True))
    session.set_speed((tl.t_end - tl.t0) / 0.3)  # the whole path in 0.3 s of frames
    session.play()
    assert session.playing
    frames = 0
    while not finished and frames < 100:
        session.playback.step_frame(FRAME_S)
        frames += 1
    assert frames == 10  # 9 frames of 0.033 s play 0.297 s of the 0.3 s, the 10th reaches the end
    assert not session.playing and finished == [True]
    assert len(seen) == 10 and seen == sorted(seen) and seen[-1] == tl.t_end
    assert session.current_event_index() == len(direct.events) - 1
    # the sizes replayed from the events end where the simulator says the positions end
    open_qty = {o.label: o.qty for o in direct.open_positions}
    for tr in tl.tracks:
        assert tr.qty[-1] == pytest.approx(open_qty.get(tr.label, 0.0), abs=1e-9)
    # the ledger panel at the end of playback shows each party's end balance
    now = view.ledger.balances_now()
    for p in direct.parties:
        assert now[p.name] == pytest.approx(p.end, abs=1e-6)


def test_clicking_an_event_moves_the_cursor_and_the_chart(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-hyperliquid-large-position.json")
    settle()
    events = session.result.events
    row = len(events) - 1
    t = events[row].t
    assert session.cursor != t and abs(view.chart.view_center() - t) > 1.0
    table = view.events.table
    rect = table.visualItemRect(table.item(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert session.cursor == t
    assert view.chart.view_center() == pytest.approx(t, abs=1e-6 * (session.timeline.t_end or 1))
    assert view.chart.cursor_line.value() == t


def test_liquidation_line_steps_when_margin_is_added(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-add-margin-in-time.json")
    (tr,) = session.timeline.tracks
    # docs/domain.md §5: 68,000 - (34,000 - 3,400) / 5 = 61,880; the lesson's story: with 10,000 added at
    # t = 30 the margin is 44,000 and the liquidation price 68,000 - (44,000 - 3,400) / 5 = 59,880.
    assert tr.liquidation[tr.k_at(29.0)] == pytest.approx(61_880.0)
    assert tr.liquidation[tr.k_at(30.0)] == pytest.approx(59_880.0)
    lp_curve, _bp_curve = view.chart.line_curves[0]
    x, y = lp_curve.getData()
    assert {round(float(v), 6) for v in y} == {61_880.0, 59_880.0}
    assert x[list(y).index(59_880.0)] == 30.0


def test_adding_margin_earlier_saves_the_position_and_undo_restores_the_liquidation(qtbot, theatre, profiles):
    session, view = theatre
    path = open_lesson(qtbot, session, "lesson-faq-crash.json")
    original = dicts(session.result.events)
    assert session.result.events_of(EventKind.LIQUIDATION_FILL)
    editor = view.actions_editor
    session.seek(30.0)
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findData(ActionKind.ADD_MARGIN.value))
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    (act,) = session.actions
    assert act.t == 30.0 and act.kind is ActionKind.ADD_MARGIN
    direct = run_scenario(with_actions(load_scenario(path), session.actions), profiles)
    assert dicts(session.result.events) == dicts(direct.events)
    assert not direct.liquidations and [o.label for o in direct.open_positions] == ["BTCUSDT long"]
    assert editor.table.rowCount() == 1
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        editor.undo_button.defaultAction().trigger()
    assert session.actions == () and dicts(session.result.events) == original
    assert editor.table.rowCount() == 0
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        session.undo_stack.redo()
    assert dicts(session.result.events) == dicts(direct.events)


def add_margin_at(qtbot, session, view, t: float) -> list[str]:
    """Pause at ``t``, choose "add margin" and press Add at cursor; returns the run's refusals."""
    editor = view.actions_editor
    session.seek(t)
    editor.kind_combo.setCurrentIndex(editor.kind_combo.findData(ActionKind.ADD_MARGIN.value))
    refused: list[str] = []
    session.runFailed.connect(refused.append)
    with qtbot.waitSignal(session.busyChanged, check_params_cb=lambda busy: not busy, timeout=WORKER_TIMEOUT_MS):
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    return refused


def test_add_at_cursor_says_what_the_run_did_with_the_action(qtbot, theatre):
    """FAQ crash, cursor at 60.876 s, add margin: the status may only say the margin was added if the
    run has its margin_added event; otherwise it says why the action did nothing, or the refusal."""
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    refused = add_margin_at(qtbot, session, view, 60.876)
    status = view.actions_editor.status.text()
    if refused:
        assert status == f"Not applied: {refused[0]}" and session.actions == ()
        return
    (act,) = session.actions
    assert act.t == 60.876
    added = session.result.events_of(EventKind.MARGIN_ADDED)
    if added:
        assert status.startswith(f"add margin at t = 60.876 s: margin added at t = {added[0].t:g} s.")
    else:
        (fill,) = session.result.events_of(EventKind.LIQUIDATION_FILL)
        assert status.startswith("add margin at t = 60.876 s had no effect (no margin added event in the run): "
                                 f"BTCUSDT long was closed at t = {fill.t:g} s (liquidation fill) before the "
                                 "action took effect.")


def test_margin_added_just_before_the_liquidation_tick_is_applied_or_refused(qtbot, theatre):
    """The action at 60.876 s falls in the tick at t = 61, where the simulator liquidates first and
    then drops the action without a word; it must either apply it or refuse it."""
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    refused = add_margin_at(qtbot, session, view, 60.876)
    if refused:
        assert refused[0].startswith("simulation.actions[0]")
    else:
        assert session.result.events_of(EventKind.MARGIN_ADDED) and not session.result.liquidations


def test_editing_an_actions_time_in_the_table_reruns(qtbot, theatre, profiles):
    session, view = theatre
    path = open_lesson(qtbot, session, "lesson-add-margin-in-time.json")
    assert not session.result.liquidations  # the lesson: margin added at t = 30 in time
    table = view.actions_editor.table
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        table.item(0, COL_T).setText("65")  # after the mark crossed 61,880 (t = 61.2 on the slide)
    assert session.actions[0].t == 65.0
    direct = run_scenario(with_actions(load_scenario(path), session.actions), profiles)
    assert dicts(session.result.events) == dicts(direct.events)
    assert session.result.liquidations
    assert session.undo_stack.count() == 1
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        session.undo_stack.undo()
    assert session.actions[0].t == 30.0 and not session.result.liquidations
    assert table.item(0, COL_T).text() == "30"


def test_a_refused_edit_changes_nothing_and_says_why(qtbot, theatre):
    session, _view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    before = session.result
    with pytest.raises(InvalidInputError) as exc:
        session.add_action(Action(t=500.0, kind=ActionKind.ADD_MARGIN, position=0, value=1.0))
    assert exc.value.field == "simulation.actions[0].t"
    # 200x is above the classic BTCUSDT tier's maximum: the engine refuses it during the run
    with qtbot.waitSignal(session.runFailed, timeout=WORKER_TIMEOUT_MS) as sig:
        session.add_action(Action(t=10.0, kind=ActionKind.CHANGE_LEVERAGE, position=0, value=200.0))
    assert "simulation.actions[0].leverage" in sig.args[0]
    assert session.actions == () and session.result is before and session.undo_stack.count() == 0


def test_a_cell_that_is_not_a_number_is_named_and_reverted(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-add-margin-in-time.json")
    editor = view.actions_editor
    before = session.actions
    editor.table.item(0, COL_T).setText("abc")
    assert "actions[0].t" in editor.status.text() and "not a number" in editor.status.text()
    assert session.actions == before and editor.table.item(0, COL_T).text() == "30"


def test_changing_an_actions_kind_gives_it_that_kinds_value(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-add-margin-in-time.json")
    combo = view.actions_editor.table.cellWidget(0, 1)
    with qtbot.waitSignal(session.resultChanged, timeout=WORKER_TIMEOUT_MS):
        combo.setCurrentIndex(combo.findData(ActionKind.STOP_LOSS.value))
    (act,) = session.actions
    mark = session.timeline.mark_at(30.0)
    # a long's stop 1 % under the mark at t = 30 (the slide is at 68,000 - 30 x 100 = 65,000)
    assert act.kind is ActionKind.STOP_LOSS and act.t == 30.0 and act.value == pytest.approx(mark * 0.99)
    assert session.result.events_of(EventKind.STOP_TRIGGERED)


def test_a_file_the_engine_refuses_leaves_the_theatre_as_it_was(qtbot, theatre, tmp_path):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    shown = session.result
    doc = json.loads((scenarios_dir() / "lesson-faq-crash.json").read_text(encoding="utf-8"))
    doc["account"]["positions"][0]["leverage"] = 200  # above the classic BTCUSDT maximum
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with qtbot.waitSignal(session.runFailed, timeout=WORKER_TIMEOUT_MS) as sig:
        session.open_file(bad)
    assert sig.args[0].startswith("account.positions[0].leverage")
    assert session.result is shown and session.file_path.name == "lesson-faq-crash.json"
    assert "Could not simulate" in view.status.text()
    with pytest.raises(ScenarioError):
        session.open_file(tmp_path / "missing.json")
    assert session.result is shown


def test_isolated_and_cross_views_match_two_direct_runs(qtbot, theatre, profiles):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-hedge-isolated.json")
    # the two hedge lessons hold the same positions and money, once isolated and once cross
    iso = run_scenario(load_scenario(scenarios_dir() / "lesson-hedge-isolated.json"), profiles)
    cross = run_scenario(load_scenario(scenarios_dir() / "lesson-hedge-cross.json"), profiles)
    got_iso = view.compare.outcome(MarginMode.ISOLATED).result
    got_cross = view.compare.outcome(MarginMode.CROSS).result
    assert dicts(got_iso.events) == dicts(iso.events) and got_iso.parties == iso.parties
    assert dicts(got_cross.events) == dicts(cross.events)
    assert [p.end for p in got_cross.parties] == pytest.approx([p.end for p in cross.parties])
    assert iso.liquidations and not cross.liquidations  # the lessons' point, both shown
    _box, _summary, iso_list = view.compare.boxes[MarginMode.ISOLATED]
    _box, _summary, cross_list = view.compare.boxes[MarginMode.CROSS]
    assert iso_list.count() == len(iso.events) and cross_list.item(0).text() == "nothing happened"


def drawn_text(view) -> str:
    """Every word the chart shows: text items and tooltips on the plot, and its labels."""
    items = view.chart.plot.plotItem.items
    texts = [it.toPlainText() for it in items if isinstance(it, pg.TextItem)]
    texts += [it.toolTip() for it in items if it.toolTip()]
    texts += [lab.text() for lab in view.chart.findChildren(QLabel) if lab.isVisibleTo(view)]
    return "\n".join(texts)


def partial_step_text(qtbot, session, view, lesson: str, party: str):
    """Open ``lesson``, whose one partial liquidation gives the fund nothing, move the cursor to it,
    and check the chart says so with the margin the ledger left in ``party``; returns (text, event)."""
    open_lesson(qtbot, session, lesson)
    res = session.result
    assert res.party("insurance_fund").end == 0 and not res.events_of(EventKind.INSURANCE_FUND_INFLOW)
    (partial,) = res.events_of(EventKind.PARTIAL_LIQUIDATION)
    session.seek(partial.t)
    text = drawn_text(view)
    assert "surplus to the fund" not in text
    kept = session.timeline.balances_at(partial.t)[party]  # the ledger, after the sale
    assert f"nothing to the fund; the position keeps {fmt.money(kept)}" in text
    return text, partial


def test_a_partial_liquidation_is_not_labelled_a_surplus_to_the_fund(qtbot, theatre):
    """Hyperliquid sells 20 % at t = 11 and starts a cooldown: the rest of the margin stays with the
    position, the fund gets nothing (it ends at 0)."""
    session, view = theatre
    text, partial = partial_step_text(qtbot, session, view, "lesson-hyperliquid-large-position.json",
                                      "trader.isolated.BTC")
    res = session.result
    assert f"sold 10 @ {fmt.price(partial.price, res.tick_size)}" in text
    (backstop,) = res.events_of(EventKind.BACKSTOP)
    session.seek(backstop.t)
    (to_vault,) = [tr.amount for tr in res.transfers if tr.dst == "liquidator_vault"]
    assert f"the liquidator vault took 40 with {fmt.money(to_vault)} of margin" in drawn_text(view)


def test_the_adl_lesson_labels_what_the_fund_paid_and_what_was_deleveraged(qtbot, theatre):
    """The fund held 1,000 and paid 999.60; the rest of the position was closed against bob at the
    bankruptcy price, so the 6,000 gap of the whole 5 BTC was never anyone's loss."""
    session, view = theatre
    open_lesson(qtbot, session, "lesson-fund-exhausted-adl.json")
    res = session.result
    (payout,) = res.events_of(EventKind.INSURANCE_FUND_PAYOUT)
    (adl,) = res.events_of(EventKind.ADL)
    session.seek(adl.t)
    text = drawn_text(view)
    assert f"gap past bankruptcy paid by the fund {fmt.money(payout.amount)}" in text
    assert fmt.money(payout.amount) == "999.60" and "6,000" not in text
    assert f"ADL'd {fmt.num(adl.qty)} @ {fmt.price(adl.price, res.tick_size)} against bob" in text


def test_a_tier_step_down_gives_the_fund_nothing_and_says_so(qtbot, theatre):
    session, view = theatre
    text, step = partial_step_text(qtbot, session, view, "lesson-tier-step-down.json", "trader.isolated.BTCUSDT")
    assert f"liquidation fee {fmt.money(step.detail['fee'])}" in text


def test_the_faq_crash_labels_the_surplus_the_fund_received(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    (inflow,) = session.result.events_of(EventKind.INSURANCE_FUND_INFLOW)
    session.seek(session.timeline.t_end)
    assert f"surplus to the fund {fmt.money(inflow.amount)}" in drawn_text(view)  # 5 x 300 = 1,500.00
    session.seek(0.0)  # the caption follows the cursor: nothing has happened yet
    assert view.chart.caption.text() == f"No liquidation yet: the first is at t = {inflow.t:g} s."


def test_at_the_adl_the_queue_shows_the_simulators_ranking_with_the_chosen_first(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-fund-exhausted-adl.json")
    (adl,) = session.result.events_of(EventKind.ADL)
    table = view.adl.table

    def shown() -> list[str]:
        return [table.item(r, 1).text() for r in range(table.rowCount())]

    session.seek(adl.t)
    assert shown()[0] == adl.position == "bob"
    assert shown() == [row.name for row in session.timeline.adl_queue(adl.t, inclusive=False)]
    assert table.item(0, 7).text() == f"{adl.detail['rank_score']:.4g}"  # the score the simulator ranked by
    row_text = " ".join(table.item(0, c).text() for c in range(table.columnCount()))
    assert f"{fmt.num(adl.qty)} @ {fmt.price(adl.price, session.result.tick_size)}" in row_text
    session.seek(adl.t - 1)  # before: the queue at the cursor's mark, nobody closed yet
    assert shown() == [row.name for row in session.timeline.adl_queue(adl.t - 1)]
    session.seek(adl.t + 1)  # after: bob's remaining size, and nobody in the queue (the long is closed)
    assert shown() == [row.name for row in session.timeline.adl_queue(adl.t + 1)]


def test_the_fan_is_core_run_fan_drawn_in_the_risk_panel(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    view.tabs.setCurrentWidget(view.risk)
    with qtbot.waitSignal(session.fanFinished, timeout=WORKER_TIMEOUT_MS) as sig:
        session.start_fan(sigma=0.8, horizon_s=86_400.0, n_paths=2_000, n_steps=50, seed=3)
    fan = sig.args[0]
    direct = run_fan(fan_spec(session.timeline, session.cursor, sigma=0.8, horizon_s=86_400.0, n_paths=2_000,
                              n_steps=50, seed=3))
    assert fan.liquidation_price == pytest.approx(61_880.0)  # docs/domain.md §5
    assert np.array_equal(fan.quantiles, direct.quantiles) and fan.touch_fraction == direct.touch_fraction
    _x, y = view.risk.median.getData()
    assert np.array_equal(y, fan.quantiles[2]) and view.risk.lp_line.value() == fan.liquidation_price
    assert f"{fan.touch_fraction:.1%}" in view.risk.fan_label.text()


def test_cancelling_the_fan_stops_the_worker_and_keeps_the_gui_running(qtbot, theatre, monkeypatch):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-faq-crash.json")
    real = core_timeline.gbm_paths
    in_second, gate = threading.Event(), threading.Event()
    chunks: list[int] = []

    def gated(**kw):
        chunks.append(1)
        if len(chunks) == 2:
            in_second.set()
            gate.wait(30)  # the worker holds its second chunk until the test has pressed Cancel
        return real(**kw)

    monkeypatch.setattr(core_timeline, "gbm_paths", gated)
    progress: list[int] = []
    session.fanProgress.connect(progress.append)
    view.risk.paths.setValue(99_000)  # 99 chunks of 1,000 paths
    with qtbot.waitSignal(session.fanProgress, timeout=WORKER_TIMEOUT_MS):
        qtbot.mouseClick(view.risk.start_button, Qt.MouseButton.LeftButton)
    assert in_second.wait(30)  # the worker is inside its second chunk, past its cancel check
    # the GUI thread delivered the worker's progress while the worker is still drawing
    assert progress == [1] and session.fan_running and not session._fan_future.done()
    assert not view.risk.start_button.isEnabled() and view.risk.cancel_button.isEnabled()
    with qtbot.waitSignal(session.fanCancelled, timeout=WORKER_TIMEOUT_MS):
        qtbot.mouseClick(view.risk.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert not session.fan_running
    session._fan_future.result(timeout=WORKER_TIMEOUT_MS / 1000)  # the worker thread has returned
    assert progress == [1, 2] and len(chunks) == 2  # it stopped after the chunk under way
    assert view.risk.start_button.isEnabled() and not view.risk.cancel_button.isEnabled()
    assert view.risk.fan_label.text() == "Cancelled."


@pytest.mark.parametrize(("w", "h", "min_price", "min_tab"), [(1440, 900, 300, 230), (1024, 700, 150, 150)])
def test_the_theatre_window_gives_its_charts_room(qtbot, profiles, w, h, min_price, min_tab):
    """Docked, the charts had 30-60 px; in their own window at 1440 x 900 or 1024 x 700 they are
    readable, nothing asks for a wider window, and the legend sits under the time axis."""
    session = TheatreSession(profiles, clock=frozen_clock)
    win = QtTheatreWindow(session)
    qtbot.addWidget(win)
    open_lesson(qtbot, session, "lesson-hedge-isolated.json")  # two positions: the longest legend and readout
    assert win.windowTitle().startswith(session.scenario.name)
    win.resize(w, h)
    win.show()
    qtbot.waitExposed(win)
    session.seek(34.0)  # the caption holds the liquidation's lines
    settle()
    hint = win.minimumSizeHint()
    assert (win.width(), win.height()) == (w, h) and hint.width() <= 1024 and hint.height() <= 700
    chart = win.view.chart
    vb = chart.plot.plotItem.vb
    assert vb.height() >= min_price and win.view.fund.plot.height() >= min_tab - 40
    legend, data = chart.legend.sceneBoundingRect(), vb.sceneBoundingRect()
    assert legend.top() >= data.bottom() and legend.right() <= chart.plot.width()
    assert chart.caption.isVisible() and chart.caption.geometry().top() >= chart.plot.geometry().bottom()
    session.close()


def test_clicking_an_event_marker_on_the_chart_seeks_to_it(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-hyperliquid-large-position.json")
    settle()
    plot = view.chart.plot
    k = 0  # the first event (t = 11): the later ones (t = 19) must then be greyed in the log
    t, y = view.chart.event_position(k)
    scene = plot.plotItem.vb.mapViewToScene(QPointF(t, y))
    qtbot.mouseMove(plot.viewport(), pos=plot.mapFromScene(scene))
    # the hovered marker says what happened (the test's mouse is not rate-limited: hover is immediate)
    assert "t = 11 s" in plot.plotItem.vb.toolTip()
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene))
    assert session.cursor == session.result.events[k].t
    assert view.chart.view_center() == pytest.approx(session.cursor, abs=1e-6)
    n = session.current_event_index() + 1
    greyed = [view.events.table.item(r, 1).foreground().color().name() for r in range(view.events.table.rowCount())]
    assert 0 < n < len(greyed)
    assert all((g == FUTURE.name()) == (r >= n) for r, g in enumerate(greyed))


def test_an_inverse_lesson_shows_its_amounts_in_the_coin(qtbot, theatre):
    session, view = theatre
    open_lesson(qtbot, session, "lesson-inverse-long-accelerating.json")
    tl = session.timeline
    assert session.settle_asset == tl.settle_asset == "BTC"
    session.seek(tl.t_end)
    (step,) = tl.steps
    # the lesson's own numbers: a margin of 0.33333333 BTC, all lost; the 0.00664452 BTC left after the
    # fill's loss went in fees (tests/core/test_timeline.py derives it by hand)
    ledger = view.ledger.table
    rows = {ledger.item(r, 0).text(): [ledger.item(r, c).text() for c in range(1, 5)] for r in range(ledger.rowCount())}
    assert rows["trader.isolated.BTCUSD_PERP"] == ["0.33333333", "0.00000000", "0.00000000", "-0.33333333"]
    assert rows["fees"][1] == fmt.amount(step.fees, "BTC") == "0.00664452"
    assert view.ledger.note.text().startswith("Balances in BTC.")
    events = view.events.table
    assert events.horizontalHeaderItem(5).text() == "amount (BTC)"
    fill = [r for r in range(events.rowCount()) if events.item(r, 1).text() == "liquidation fill"]
    assert [events.item(r, 5).text() for r in fill] == ["-0.32668882"]
    assert view.fund.label.text().startswith("Insurance fund at t = 360 s: <b>0.00000000 BTC</b>")
    assert view.adl.table.horizontalHeaderItem(5).text() == "margin (BTC)"
    assert view.chart.caption.text() == ("liquidation of BTCUSD_PERP long at t = 295 s: sold 1,000 @ 50,166.7 "
                                         "(bankruptcy 50,000.0); liquidation fee 0.00664452 BTC; nothing to the fund.")
    # a linear lesson names USDT where it names the asset and keeps its cents
    open_lesson(qtbot, session, "lesson-fund-exhausted-adl.json")
    assert session.settle_asset == "USDT" and view.events.table.horizontalHeaderItem(5).text() == "amount (USDT)"
