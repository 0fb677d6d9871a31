"""Test configuration shared by the headless core suite and the Qt suite.

Tests never touch the real user's directories: HOME and the XDG variables point into a temporary
folder for every test, and Qt runs offscreen.

Tests marked ``display`` need a real X server (what the offscreen platform cannot show: shortcuts,
window sizing, real paints). They are skipped unless ``MARGINLAB_DISPLAY_TESTS=1``, which
``make test-display`` sets when it runs them under ``xvfb-run`` with the xcb platform (.ci/run does).
"""
from __future__ import annotations

import os

DISPLAY_TESTS = os.environ.get("MARGINLAB_DISPLAY_TESTS") == "1"
if not DISPLAY_TESTS:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402  (after the platform is chosen)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DISPLAY_TESTS:
        return
    skip = pytest.mark.skip(reason="needs a real X display: run by `make test-display` (xvfb-run), as .ci/run does")
    for item in items:
        if "display" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(var, str(home / sub))
    yield
