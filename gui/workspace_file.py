"""The workspace's file: where it was opened from or saved to, and whether it has unsaved changes.

:class:`WorkspaceFile` opens a scenario file into the session (a new workspace: the undo history
starts again) and saves the session's scenario back atomically (:func:`core.scenario.
save_scenario`). "Modified" is the undo stack's clean state, or a workspace recovered from an
autosave that had unsaved changes.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.errors import InvalidInputError
from core.scenario import Scenario, load_scenario, save_scenario
from gui.saver import BackgroundWriter


class WorkspaceOwner(Protocol):
    """What the file reads of its session (gui.session.Session)."""

    undo_stack: QUndoStack
    scenario: Scenario

    def replace_workspace(self, scenario: Scenario, *, selected: int = 0) -> None: ...
    def log(self, kind: str, detail: str) -> None: ...


class WorkspaceFile(QObject):
    fileChanged = Signal()
    modifiedChanged = Signal(bool)

    def __init__(self, session: WorkspaceOwner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.path: Path | None = None
        self._recovered_modified = False
        session.undo_stack.cleanChanged.connect(
            lambda clean: self.modifiedChanged.emit(self._recovered_modified or not clean))

    def is_modified(self) -> bool:
        return self._recovered_modified or not self.session.undo_stack.isClean()

    def new_workspace(self, scenario: Scenario, *, path: Path | None = None, modified: bool = False,
                      selected: int = 0) -> None:
        """Replace everything (undo history included) by ``scenario``. Raises InvalidInputError."""
        self.session.replace_workspace(scenario, selected=selected)
        self.path = path
        self._recovered_modified = modified
        self.fileChanged.emit()
        self.modifiedChanged.emit(self.is_modified())

    def open(self, path: Path | str) -> None:
        """Load a scenario file (ScenarioError / InvalidInputError leave the workspace unchanged)."""
        path = Path(path)
        sc = load_scenario(path)
        self.new_workspace(sc, path=path.resolve())
        self.session.log("file", f"opened {path.name}")

    def save(self, path: Path | str | None = None) -> Path:
        """Write the scenario to ``path`` (default: its own file) atomically; it is then unmodified."""
        target = self._target(path)
        scenario = self.session.scenario
        save_scenario(target, scenario)
        return self._saved(target, scenario)

    def save_in_background(self, writer: BackgroundWriter, path: Path | str | None,
                           on_done: Callable[[Path | None, str], None]) -> None:
        """:meth:`save` on ``writer``'s thread: the window stays live while a large file is written.

        ``on_done(path, "")`` follows on the GUI thread, or ``on_done(None, reason)``. Edits made
        while the file was being written keep the workspace modified (the file holds the state
        from when the save began).
        """
        target = self._target(path)
        scenario = self.session.scenario

        def done(_result: object, error: str) -> None:
            on_done(None if error else self._saved(target, scenario), error)

        writer.submit(f"save:{target}", lambda: save_scenario(target, scenario), done)

    def _target(self, path: Path | str | None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise InvalidInputError("path", "choose a file name (Save As)")
        return target

    def _saved(self, target: Path, scenario: Scenario) -> Path:
        self.path = target.resolve()
        # the workspace is what was written (an edit while the worker wrote replaced the frozen
        # scenario, and an undo back to it brings the very same object back): unmodified
        if self.session.scenario is scenario:
            self._recovered_modified = False
            self.session.undo_stack.setClean()
        self.fileChanged.emit()
        self.modifiedChanged.emit(self.is_modified())
        self.session.log("file", f"saved {target.name}")
        return self.path
