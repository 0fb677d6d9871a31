"""Preferences, each declared once with its type, default and one-sentence meaning.

Stored as JSON in ``paths.settings_path()`` (the user config directory, via platformdirs); only values
that differ from the default are written, so a changed default reaches every user who never touched
it. Window geometry is the one thing kept elsewhere (``QSettings``, see ``main_window``).

A settings file that cannot be read is kept aside (``core.persistence.keep_aside``) and reported
through :attr:`Settings.problem`; the defaults are used instead.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from core.errors import FileFormatError
from core.persistence import atomic_write_json, read_json_file, set_aside
from core.validate import number

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One preference: its JSON key, default, and a check that returns the cleaned value or raises."""

    key: str
    default: T
    doc: str
    clean: Callable[[Any], T]


def _choice(*choices: str) -> Callable[[Any], str]:
    def clean(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {v!r}")
        return str(v)
    return clean


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"expected a non-empty text, got {v!r}")
    return v


def _int_in(lo: int, hi: int) -> Callable[[Any], int]:
    def clean(v: Any) -> int:
        return int(number("value", v, lo=lo, hi=hi, integer=True))  # InvalidInputError is a ValueError
    return clean


def _float_in(lo: float, hi: float) -> Callable[[Any], float]:
    def clean(v: Any) -> float:
        return number("value", v, lo=lo, hi=hi)
    return clean


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _levels(v: Any) -> tuple[float, ...]:
    """A few thresholds, each a fraction in (0, 1), sorted; an empty list means none."""
    if not isinstance(v, list | tuple) or len(v) > 4:
        raise ValueError("expected a list of at most 4 fractions")
    return tuple(sorted(number("value", x, lo=0, hi=1, lo_open=True, hi_open=True) for x in v))


def _paths(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(p, str) for p in v):
        raise ValueError("expected a list of file paths")
    return tuple(v)[:MAX_RECENT]


MAX_RECENT: Final = 8
MAX_SETTINGS_BYTES: Final = 1024 * 1024

DEFAULT_PROFILE: Final = Setting("default_profile", "classic", "Exchange profile for a new workspace.", _text)
THEME: Final = Setting("theme", "system", "Colour scheme: follow the system, or force light or dark.",
                       _choice("system", "light", "dark"))
RECENT_FILES: Final[Setting[tuple[str, ...]]] = Setting(
    "recent_files", (), "Scenario files opened or saved lately, newest first.", _paths)
FEED_SEED: Final = Setting("feed_seed", 7, "Seed of the simulated mark-price feed (same seed, same path).",
                           _int_in(0, 2**31 - 1))
FEED_VOLATILITY: Final = Setting("feed_volatility", 0.8, "Annualised volatility of the simulated feed.",
                                 _float_in(0.01, 10.0))
FEED_SPEED: Final = Setting("feed_speed", 3_600, "Simulated seconds per real second during playback.",
                            _int_in(1, 86_400))
AUTOSAVE: Final = Setting("autosave", True, "Keep the workspace in the user data directory as you work.", _bool)

ALERTS: Final = Setting("alerts", True, "During playback, notify when a position crosses an alert threshold.",
                        _bool)
ALERT_MARGIN_RATIOS: Final[Setting[tuple[float, ...]]] = Setting(
    "alert_margin_ratios", (0.5, 0.8), "Margin ratios (100 % liquidates) at which playback alerts, rising.", _levels)
ALERT_DISTANCES: Final[Setting[tuple[float, ...]]] = Setting(
    "alert_distances", (0.05,), "Distances to liquidation (share of the mark) at which playback alerts, falling.",
    _levels)

ALL: Final[tuple[Setting[Any], ...]] = (DEFAULT_PROFILE, THEME, RECENT_FILES, FEED_SEED, FEED_VOLATILITY,
                                        FEED_SPEED, AUTOSAVE, ALERTS, ALERT_MARGIN_RATIOS, ALERT_DISTANCES)


class Settings:
    """The preferences in memory; :meth:`save` writes the non-default ones atomically."""

    def __init__(self, path: Path, values: dict[str, Any] | None = None, problem: str = "") -> None:
        self.path = path
        self._values: dict[str, Any] = dict(values or {})
        self.problem = problem

    @classmethod
    def load(cls, path: Path) -> Settings:
        if not path.exists() and not path.is_symlink():
            return cls(path)
        try:
            raw = read_json_file(path, max_bytes=MAX_SETTINGS_BYTES, what="settings file")
            if not isinstance(raw, dict):
                raise FileFormatError(str(path), "expected a JSON object")
        except FileFormatError as exc:
            return cls(path, problem=f"The settings file {path} could not be read ({exc.problem}); "
                                     f"{set_aside(path)}; the defaults are used.")
        values: dict[str, Any] = {}
        bad: list[str] = []
        by_key = {s.key: s for s in ALL}
        for key, v in raw.items():
            s = by_key.get(key)
            if s is None:
                continue  # a newer MarginLab's setting: ignored, not an error
            try:
                values[key] = s.clean(v)
            except ValueError as exc:
                bad.append(f"{key}: {exc}")
        problem = (f"Some settings in {path} were ignored: " + "; ".join(bad)) if bad else ""
        return cls(path, values, problem)

    def get(self, setting: Setting[T]) -> T:
        return self._values.get(setting.key, setting.default)

    def set(self, setting: Setting[T], value: T) -> None:
        cleaned = setting.clean(value)
        if cleaned == setting.default:
            self._values.pop(setting.key, None)
        else:
            self._values[setting.key] = cleaned

    def add_recent(self, path: Path | str) -> None:
        p = str(Path(path).resolve())
        rest = [r for r in self.get(RECENT_FILES) if r != p]
        self.set(RECENT_FILES, (p, *rest)[:MAX_RECENT])

    def save(self) -> None:
        doc = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self._values.items()}
        atomic_write_json(self.path, doc)
