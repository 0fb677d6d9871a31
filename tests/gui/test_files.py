"""Files: save and reopen, unsaved marker, autosave restore and recovery, damaged autosave, export."""
from __future__ import annotations

import csv
import json

import pytest

from core.scenario import load_scenario
from gui import paths
from gui import settings as S
from gui.workspace import write_autosave


def test_save_reopen_same_state(window, tmp_path):
    s = window.session
    window.form.leverage.setValue(20.0)
    window.table.add_button.click()
    window.form.mode.setCurrentIndex(window.form.mode.findData("cross"))
    window.form.side.setCurrentIndex(window.form.side.findData("short"))
    assert window.isWindowModified() and window.windowTitle().endswith("[*] — MarginLab")
    path = tmp_path / "mine.json"
    assert window._save_to(path)
    assert not window.isWindowModified() and window.windowTitle().startswith("mine.json")
    saved = s.scenario
    numbers = [q.as_dict() for q in s.quote.positions]
    assert str(path.resolve()) == window.settings.get(S.RECENT_FILES)[0]
    window.new_file()
    assert s.scenario != saved and len(s.account.positions) == 1
    assert window.open_file(path)
    assert s.scenario == saved == load_scenario(path)  # the CLI's format, read by core
    assert [q.as_dict() for q in s.quote.positions] == numbers
    assert not s.file.is_modified() and s.undo_stack.count() == 0


def test_unsaved_changes_prompt_can_cancel(window, answers):
    window.form.leverage.setValue(20.0)
    answers.save_choice = "cancel"
    window.new_file()
    assert window.session.position.leverage == 20.0  # nothing dropped
    answers.save_choice = "discard"
    window.new_file()
    assert window.session.position.leverage == 10.0


def test_a_damaged_file_is_reported_and_not_opened(window, answers, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "exchange": "classic", "account": {"positions": [{"side": "up"}]}}')
    before = window.session.scenario
    assert not window.open_file(bad)
    assert answers.informed and "account.positions[0].side" in answers.informed[-1][1]
    assert window.session.scenario is before
    assert bad.read_text().startswith('{"schema_version": 1')  # kept as it was


def test_later_launch_restores_the_last_workspace(make_window):
    w1 = make_window()
    w1.form.leverage.setValue(25.0)
    w1.write_autosave()
    w1.writer.wait()  # written on the worker thread
    w2 = make_window()
    assert w2.session.position.leverage == 25.0


def test_unsaved_autosave_is_offered_back(make_window, answers, profiles):
    w1 = make_window()
    w1.form.leverage.setValue(20.0)
    w1.write_autosave()
    w1.writer.wait()  # written on the worker thread
    doc = json.loads(paths.autosave_path().read_text())
    assert doc["modified"] is True and doc["scenario"]["account"]["positions"][0]["leverage"] == 20.0
    answers.ask_result = True
    w2 = make_window()
    assert answers.asked == ["Recover unsaved changes?"]
    assert w2.session.position.leverage == 20.0 and w2.session.file.is_modified() and w2.isWindowModified()
    answers.ask_result = False
    w3 = make_window()
    assert w3.session.position.leverage == 10.0  # declined: the example (nothing was saved)


def test_a_damaged_autosave_is_reported_and_kept_aside(make_window, answers):
    path = paths.autosave_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"kind": "marginlab.workspace", "version": 1, "scenario": {"trunc')
    w = make_window()
    assert len(answers.informed) == 1
    _title, text = answers.informed[0]
    kept = [p for p in path.parent.iterdir() if p.name.startswith("autosave.json.damaged-")]
    assert len(kept) == 1 and kept[0].name in text
    assert kept[0].read_bytes() == b'{"kind": "marginlab.workspace", "version": 1, "scenario": {"trunc'
    assert not path.exists()
    assert w.session.position.leverage == 10.0  # the example instead
    w.form.leverage.setValue(12.0)
    w.write_autosave()
    w.writer.wait()  # written on the worker thread
    assert kept[0].read_bytes().endswith(b"trunc")  # never overwritten


def test_autosave_with_an_impossible_position_is_kept_aside(make_window, answers, profiles):
    from dataclasses import replace

    from gui.workspace import example_scenario

    sc = example_scenario(profiles.get("classic"))
    bad = replace(sc, account=sc.account.with_(positions=(sc.account.positions[0].with_(leverage=90.0),)))
    write_autosave(paths.autosave_path(), bad, file=None, modified=False, selected=0)
    w = make_window()
    assert answers.informed and "allowed 1-50" in answers.informed[0][1]
    assert w.session.position.leverage == 10.0


def test_exports(window, tmp_path):
    window.whatif.set_action("add_margin")
    window.whatif.add_margin.spin.setValue(1_000.0)
    window.whatif.apply_button.click()
    assert window.export_results_csv(tmp_path / "r.csv")
    rows = list(csv.reader((tmp_path / "r.csv").open()))
    assert rows[0] == ["position", "symbol", "field", "value", "arithmetic"]
    lp = next(r for r in rows if r[2] == "liquidation_price")
    # margin 35,000: LP = 68,000 - (35,000 - 3,400) / 5 = 61,680
    assert lp[3] == "61,680.0" and "61,680" in lp[4]
    assert window.export_events_csv(tmp_path / "e.csv")
    events = list(csv.reader((tmp_path / "e.csv").open()))
    assert events[0] == ["wall_time", "feed_time_s", "kind", "detail"]
    assert any(r[2] == "what-if" and "Add margin" in r[3] for r in events[1:])
    assert window.export_chart_png(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_settings_keep_only_changed_values_and_survive_damage(tmp_path):
    p = tmp_path / "settings.json"
    st = S.Settings.load(p)
    st.set(S.THEME, "dark")
    st.set(S.DEFAULT_PROFILE, "classic")  # the default: not written
    st.save()
    assert json.loads(p.read_text()) == {"theme": "dark"}
    assert S.Settings.load(p).get(S.THEME) == "dark"
    with pytest.raises(ValueError, match="expected one of system, light, dark"):
        st.set(S.THEME, "purple")
    p.write_text("{not json")
    st2 = S.Settings.load(p)
    assert st2.get(S.THEME) == "system" and "kept as" in st2.problem
    assert any(x.name.startswith("settings.json.damaged-") for x in tmp_path.iterdir())


def test_window_geometry_is_kept_in_qsettings(make_window):
    w1 = make_window()
    w1.resize(701, 603)  # inside the offscreen screen (800 x 800), so nothing is clamped
    w1.close()
    assert paths.qsettings_path().exists()
    assert json.loads(paths.autosave_path().read_text())["modified"] is False
    w2 = make_window()
    assert (w2.width(), w2.height()) == (701, 603)


def test_the_start_mark_follows_the_entry_until_the_user_sets_it(window):
    # issue 9: typing a new entry left "Start mark" at the old value: phantom uPnL
    s = window.session
    window.form.entry.setValue(70_000.0)
    assert s.account.mark_of(s.position) == 70_000.0 and s.position_quote.unrealized_pnl == 0.0
    window.form.mark.setValue(69_000.0)  # the user sets it: from now on it stays
    window.form.entry.setValue(71_000.0)
    assert s.account.mark_of(s.position) == 69_000.0
    assert s.position_quote.unrealized_pnl == pytest.approx(5 * (69_000 - 71_000))


def test_a_workspace_can_be_renamed_and_a_new_one_is_untitled(window, answers):
    # issue 9: the title kept "Source FAQ example…" after everything changed
    s = window.session
    assert s.scenario.name == "" and window.windowTitle().startswith("Untitled")  # the example, unnamed
    window.ask_text = lambda title, label, text: "My BTC hedge"  # type: ignore[method-assign]
    window.rename_workspace()
    assert s.scenario.name == "My BTC hedge" and window.windowTitle().startswith("My BTC hedge")
    window.act_undo.trigger()
    assert s.scenario.name == "" and window.windowTitle().startswith("Untitled")
    window.act_redo.trigger()
    answers.save_choice = "discard"
    window.new_file()
    assert s.scenario.name == "" and window.windowTitle().startswith("Untitled")


def test_a_scenario_with_an_absurd_number_is_refused_on_open_with_the_field(window, answers, tmp_path):
    # issue 9: a scenario with mark 1e30 opened, then raised on every frame
    import json

    path = tmp_path / "absurd.json"
    doc = {"schema_version": 1, "exchange": "classic",
           "account": {"wallet": 0, "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68_000,
                                                   "leverage": 10}], "marks": {"BTCUSDT": 1e30}}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    before = window.session.scenario
    assert not window.open_file(path)
    _title, text = answers.informed[-1]
    assert "account.marks.BTCUSDT" in text and "1e+15" in text
    assert window.session.scenario == before
    # a huge but possible one opens and displays (scientific notation where needed)
    doc["account"]["marks"]["BTCUSDT"] = 1e14
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert window.open_file(path)
    window.session.live.advance(60)
    assert window.form.mark.value() == 1e14
    text = window.results.values["unrealized_pnl"].text()  # about 5 x 1e14, every digit shown
    assert text.endswith(" USDT")
    assert float(text.split()[0].replace(",", "")) == pytest.approx(window.session.position_quote.unrealized_pnl)


def test_autosave_and_save_are_written_off_the_gui_thread(window, tmp_path, monkeypatch):
    # issue 9: a 58 MB scenario froze the window 6.6 s at every autosave (written on the GUI thread,
    # indented). The writes run on the saver's thread; the window only hands it frozen records.
    import threading

    import core.persistence

    threads: list[str] = []
    real = core.persistence.atomic_write_bytes

    def spy(path, data):
        if "settings" not in str(path):  # the preferences file is small and stays on the GUI thread
            threads.append(threading.current_thread().name)
        return real(path, data)

    monkeypatch.setattr(core.persistence, "atomic_write_bytes", spy)
    window.form.leverage.setValue(20.0)
    window.write_autosave()
    assert window.save_file_as.__name__  # File > Save As goes through the same writer
    window.save_path = lambda *a, **k: tmp_path / "big.json"  # type: ignore[method-assign]
    assert window.save_file_as()
    window.writer.wait()
    assert len(threads) >= 2 and all(t.startswith("marginlab-save") for t in threads), threads
    assert not window.session.file.is_modified() and window.session.file.path == (tmp_path / "big.json").resolve()
    doc = json.loads(paths.autosave_path().read_text(encoding="utf-8"))
    assert doc["scenario"]["account"]["positions"][0]["leverage"] == 20.0
    assert "\n" not in paths.autosave_path().read_text(encoding="utf-8").strip()  # compact


def test_an_edit_during_a_background_save_keeps_the_workspace_modified(window, tmp_path):
    window.form.leverage.setValue(20.0)
    window.session.file.save_in_background(window.writer, tmp_path / "a.json", lambda *_: None)
    window.form.leverage.setValue(30.0)  # before the write has come back
    window.writer.wait()
    assert window.session.file.is_modified()  # the file holds 20x, the workspace 30x
    assert load_scenario(tmp_path / "a.json").account.positions[0].leverage == 20.0
