"""The shipped lessons (``resources/scenarios/lesson-*.json``) for a Help > Lessons menu.

Each lesson is a scenario file with a ``name`` and a one-paragraph ``description`` that tells its
story. :func:`list_lessons` reads only those two fields (a broken file is listed with its problem
instead of its story, never hidden and never fatal); :func:`build_lessons_menu` adds one entry per
lesson whose tooltip and status tip are the story, and calls ``on_open(path)`` when it is chosen.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from core.paths import scenarios_dir


@dataclass(frozen=True, slots=True)
class Lesson:
    """One shipped lesson: its file, its title and its one-paragraph story."""

    path: Path
    name: str
    description: str


def list_lessons(folder: Path | None = None) -> tuple[Lesson, ...]:
    """The lessons in ``folder`` (default: the shipped scenarios), sorted by file name.

    A file that cannot be read is listed with the problem as its description, so that a damaged
    install shows up in the menu rather than a lesson silently missing.
    """
    folder = scenarios_dir() if folder is None else folder
    out = []
    for path in sorted(folder.glob("lesson-*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            name = doc.get("name") if isinstance(doc, dict) else None
            desc = doc.get("description") if isinstance(doc, dict) else None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            name, desc = None, f"This lesson cannot be read: {exc}"
        title = name if isinstance(name, str) and name else path.stem.removeprefix("lesson-").replace("-", " ")
        out.append(Lesson(path=path, name=title, description=desc if isinstance(desc, str) else ""))
    return tuple(out)


def build_lessons_menu(parent_menu: QMenu, on_open: Callable[[Path], None], *,
                       folder: Path | None = None) -> QMenu:
    """Add a "Lessons" submenu to ``parent_menu`` (e.g. Help) and return it.

    Every action's text is the lesson's name; its tooltip and status tip are the story; triggering it
    calls ``on_open(path)`` with the lesson's file.
    """
    menu = parent_menu.addMenu("&Lessons")
    menu.setToolTipsVisible(True)
    lessons = list_lessons(folder)
    if not lessons:
        empty = QAction("(no lessons found)", menu)
        empty.setEnabled(False)
        menu.addAction(empty)
    for lesson in lessons:
        act = QAction(lesson.name, menu)
        act.setToolTip(lesson.description)
        act.setStatusTip(lesson.description[:200])
        act.setData(str(lesson.path))
        act.triggered.connect(lambda _checked=False, p=lesson.path: on_open(p))
        menu.addAction(act)
    return menu
