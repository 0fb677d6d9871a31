"""Every edit of the workspace is one of these undoable commands (glue's rule, Qt's QUndoStack).

Core objects are frozen, so a command simply holds the scenario before and after (and which position
was selected) and swaps them. The label is what the Edit menu shows ("Undo Set leverage").
Consecutive edits of the same field of the same position merge into one command, so that dragging a
spin box's arrows is undone in one step.
"""
from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QUndoCommand

from core.scenario import Scenario

MERGE_EDIT_FIELD = 1


class Installs(Protocol):
    """What a command acts on: ``gui.session.Session``, which imports this module (not the reverse)."""

    def _install(self, scenario: Scenario, selected: int) -> None: ...


class ReplaceScenario(QUndoCommand):
    """Swap the session's scenario between two frozen values."""

    def __init__(self, session: Installs, *, before: Scenario, after: Scenario, text: str,
                 selected_before: int, selected_after: int, merge_key: str | None = None) -> None:
        super().__init__(text)
        self._session = session
        self.before = before
        self.after = after
        self.selected_before = selected_before
        self.selected_after = selected_after
        self.merge_key = merge_key

    def redo(self) -> None:
        self._session._install(self.after, self.selected_after)

    def undo(self) -> None:
        self._session._install(self.before, self.selected_before)

    def id(self) -> int:
        return MERGE_EDIT_FIELD if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ReplaceScenario) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.selected_after = other.selected_after
        return True


class EditPosition(ReplaceScenario):
    """A field of one position changed in the form (merges with the next edit of that field)."""


class AddPosition(ReplaceScenario):
    pass


class RemovePosition(ReplaceScenario):
    pass


class EditAccount(ReplaceScenario):
    """Wallet, profile or a mark changed."""


class ApplyWhatIf(ReplaceScenario):
    """A previewed what-if (add margin, leverage, partial close, add to position) made real."""
