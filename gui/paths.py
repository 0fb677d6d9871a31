"""The user's directories, from platformdirs, in one place.

``core`` never looks these up (it takes explicit paths); the GUI resolves them here and passes them
in. Every function reads the environment when it is called, so tests that point ``HOME`` and the
``XDG_*`` variables at a temporary folder get a fresh, isolated set of directories.
"""
from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "marginlab"


def config_dir() -> Path:
    """Settings (``settings.json``), the user's own exchange profiles (``exchanges/``)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """The autosaved workspace."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    """``marginlab.log``: unexpected errors with their traceback."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def autosave_path() -> Path:
    return data_dir() / "autosave.json"


def log_path() -> Path:
    return log_dir() / "marginlab.log"


def user_exchanges_dir() -> Path:
    """A user's newer or custom profiles; one with a shipped id replaces the shipped one."""
    return config_dir() / "exchanges"


def qsettings_path() -> Path:
    """Window geometry and dock state only (QSettings, INI format) — beside settings.json."""
    return config_dir() / "window.ini"
