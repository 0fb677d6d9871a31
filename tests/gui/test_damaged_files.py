"""Start-up survives any damaged user file: it is skipped or kept aside, named once, and the window opens.

Each case is a file a user (or a crash, or a full disk) could leave in MarginLab's folders. The app
is started as ``marginlab`` starts (gui.app.launch, no event loop) with the user folders in tmp.
"""
from __future__ import annotations

import json
import os
import sys
import time

import pytest

from gui import paths
from gui.app import launch, parse_args
from gui.main_window import MainWindow
from tests.gui.conftest import retire


@pytest.fixture
def start(qapp, monkeypatch):
    informed: list[tuple[str, str]] = []
    monkeypatch.setattr(MainWindow, "inform", lambda self, title, text: informed.append((title, text)))
    monkeypatch.setattr(MainWindow, "ask", lambda self, title, text: True)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # errors.install() replaces it
    windows: list[MainWindow] = []

    def run() -> tuple[MainWindow, str]:
        informed.clear()
        _app, window = launch(parse_args([]))
        windows.append(window)
        return window, "\n".join(f"{t}: {x}" for t, x in informed)

    yield run
    for w in windows:
        retire(w)
    qapp.processEvents()


DEEP = "[" * 100_000 + "]" * 100_000
PROFILE_DAMAGE = {
    "not_utf8": b"schema_version = 1\nid = \"x\"\nname = \"\xff\xfe\"\n",
    "deeply_nested": ("x = " + "[" * 50_000 + "]" * 50_000 + "\n").encode(),
    "huge_integer": (b'schema_version = 1\nid = "huge"\nas_of = "2025-01-01"\nsource = "s"\n'
                     b'[contracts.BTCUSDT]\n[[contracts.BTCUSDT.tiers]]\nfloor = 0\ncap = ' + b"9" * 400 +
                     b'\nmax_leverage = 10\nmmr = 0.01\n'),
    "binary": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(PROFILE_DAMAGE))
def test_a_damaged_user_profile_is_skipped_and_named(start, name):
    folder = paths.user_exchanges_dir()
    folder.mkdir(parents=True)
    (folder / f"{name}.toml").write_bytes(PROFILE_DAMAGE[name])
    window, said = start()
    assert window.isVisible() and window.session.position is not None
    assert f"{name}.toml" in said and "not loaded" in said
    assert (folder / f"{name}.toml").exists()  # a profile is the user's own file: left untouched


def test_two_user_profiles_with_one_id_are_reported(start):
    folder = paths.user_exchanges_dir()
    folder.mkdir(parents=True)
    shipped = (paths_shipped() / "classic.toml").read_text(encoding="utf-8")
    mine = shipped.replace('id = "classic"', 'id = "mine"')
    (folder / "a.toml").write_text(mine, encoding="utf-8")
    (folder / "b.toml").write_text(mine, encoding="utf-8")
    window, said = start()
    assert "b.toml" in said and "'mine' is also the id of a.toml" in said
    assert "mine" in window.session.profiles.ids


def paths_shipped():
    from core.paths import exchanges_dir

    return exchanges_dir()


JSON_DAMAGE = {
    "deeply_nested": DEEP,
    "huge_number": '{"kind": "marginlab.workspace", "version": 1, "scenario": {"schema_version": 1, '
                   '"exchange": "classic", "account": {"wallet": ' + "9" * 400 + ', "positions": []}}}',
    "not_json": "{ this is not json",
    "not_utf8": "\udcff",  # written as a lone byte below
    "nan": '{"kind": "marginlab.workspace", "version": 1, "scenario": NaN}',
}


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe{")
    else:
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("name", sorted(JSON_DAMAGE))
def test_a_damaged_autosave_is_kept_aside_and_the_window_opens(start, name):
    path = paths.autosave_path()
    _write(path, JSON_DAMAGE[name])
    window, said = start()
    assert window.isVisible() and window.session.position is not None
    assert "Last workspace not restored" in said and "kept as autosave.json.damaged-" in said
    kept = [p for p in path.parent.iterdir() if p.name.startswith("autosave.json.damaged-")]
    assert len(kept) == 1


@pytest.mark.parametrize("name", sorted(set(JSON_DAMAGE) - {"huge_number"}))
def test_damaged_settings_are_kept_aside_and_defaults_used(start, name):
    path = paths.settings_path()
    _write(path, JSON_DAMAGE[name])
    window, said = start()
    assert window.isVisible()
    assert "settings.json" in said and "defaults are used" in said


def test_a_settings_value_of_400_digits_is_ignored_with_a_message(start):
    path = paths.settings_path()
    _write(path, json.dumps({"feed_volatility": 10**400}))
    window, said = start()
    assert window.isVisible() and "settings.json" in said and "feed_volatility" in said and "401 digits" in said


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only folder")
def test_a_damaged_autosave_in_a_read_only_folder_is_left_in_place(start):
    path = paths.autosave_path()
    _write(path, DEEP)
    os.chmod(path.parent, 0o500)
    try:
        window, said = start()
    finally:
        os.chmod(path.parent, 0o700)
    assert window.isVisible() and "could not be moved aside" in said and path.exists()


def test_a_damaged_autosave_that_cannot_be_moved_is_left_in_place(start, monkeypatch):
    # the same as a read-only folder, for any user (root may write anywhere)
    import core.persistence

    def refuse(_src, _dst):
        raise PermissionError(13, "Permission denied")

    path = paths.autosave_path()
    _write(path, DEEP)
    monkeypatch.setattr(core.persistence.os, "replace", refuse)
    window, said = start()
    assert window.isVisible() and "could not be moved aside (Permission denied)" in said and path.exists()


def test_leftover_temp_files_of_an_interrupted_save_are_removed(start):
    folder = paths.data_dir()
    folder.mkdir(parents=True)
    old = folder / ".autosave.json.k2j3h4.tmp"
    new = folder / ".autosave.json.zz9x8y.tmp"
    mine = folder / "notes.tmp"
    for p in (old, new, mine):
        p.write_text("half a save", encoding="utf-8")
    an_hour_ago = time.time() - 3_600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(mine, (an_hour_ago, an_hour_ago))
    start()
    assert not old.exists()  # ours, and long untouched: an interrupted save
    assert new.exists()  # maybe another MarginLab saving right now
    assert mine.exists()  # not of our naming
