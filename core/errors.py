"""One error hierarchy for the engine; the GUI and the CLI present these in one place each."""
from __future__ import annotations


class MarginEngineError(Exception):
    """Root of every error the engine raises on purpose."""


class InvalidInputError(ValueError, MarginEngineError):
    """A value given by a person or a file is outside what the rules allow.

    ``field`` names the input (``"leverage"``, ``"positions[1].qty"``); the message says the
    allowed range, so that a form can mark the field and a CLI can print one clear line.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class InvalidPositionError(InvalidInputError):
    """A position that cannot exist under the profile's rules (size, leverage, margin)."""


class ProfileError(MarginEngineError):
    """An exchange rule profile file that cannot be used; names the file, the key and the problem."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem


class UnknownProfileError(InvalidInputError):
    """An exchange or symbol id that no loaded profile carries."""


class ScenarioError(MarginEngineError):
    """A scenario or portfolio file that cannot be read; names the file and the field path."""

    def __init__(self, path: str, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}" if field else f"{path}: {problem}")
        self.path = path
        self.field = field
        self.problem = problem


class FileFormatError(ValueError, MarginEngineError):
    """A file that cannot be read as what it should be (not a regular file, too large, not UTF-8,
    not JSON, nested too deeply); names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
