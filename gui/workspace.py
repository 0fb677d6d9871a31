"""The workspace on disk: the first-launch example and the autosave with its recovery.

The autosave (``paths.autosave_path()``, in the user data directory) holds the scenario in the same
format as a scenario file, plus where it came from and whether it had unsaved changes::

    {"kind": "marginlab.workspace", "version": 1, "scenario": {...scenario file...},
     "file": "/path/or/null", "modified": false, "selected": 0}

An autosave that cannot be read is never deleted or overwritten: it is moved aside with
``core.persistence.keep_aside`` and the caller reports where it went.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.errors import FileFormatError, InvalidInputError, MarginEngineError
from core.model import Account, MarginMode, Position, Side
from core.persistence import atomic_write_text, read_json_file, set_aside
from core.profiles import Profile, ProfileSet
from core.quote import quote_account
from core.scenario import Scenario, scenario_from_dict, scenario_to_dict

KIND: Final = "marginlab.workspace"
VERSION: Final = 1
EXAMPLE_NAME: Final = "Source FAQ example: 5 BTC long at 68,000, 10x isolated"
EXAMPLE_FREE_BALANCE: Final = 20_000.0  # spare wallet so the what-if panel can add margin


def example_scenario(profile: Profile) -> Scenario:
    """The source FAQ's position (5 BTC long at 68,000, 10x isolated) on ``profile``.

    On the classic profile it gives LP 61,880 and BP 61,200 (docs/domain.md §5). Other profiles get the
    same position on their BTC contract.
    """
    symbol = next((s for s in profile.symbols if s.upper().startswith("BTC")), profile.symbols[0])
    pos = Position(symbol=symbol, side=Side.LONG, qty_base=5.0, entry_price=68_000.0, leverage=10.0,
                   mode=MarginMode.ISOLATED)
    acct = Account(profile_id=profile.id, wallet_usd=EXAMPLE_FREE_BALANCE, positions=(pos,),
                   marks=((symbol, 68_000.0),))
    # a description, not a name: the workspace is the user's to change, and stays "Untitled" until
    # they name it or save it (a name that described the example would outlive the example)
    return Scenario(exchange=profile.id, account=acct,
                    description=EXAMPLE_NAME if profile.id == "classic" else
                    f"5 BTC long at 68,000, 10x isolated ({profile.name})")


@dataclass(frozen=True, slots=True)
class Restored:
    scenario: Scenario
    file: Path | None
    modified: bool
    selected: int


class DamagedAutosave(Exception):
    """The autosave could not be used; ``where`` says where it went (:func:`core.persistence.set_aside`)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"The last workspace could not be restored ({reason}); {where}.")
        self.where = where
        self.reason = reason


def workspace_to_dict(scenario: Scenario, *, file: Path | None, modified: bool, selected: int) -> dict[str, Any]:
    return {"kind": KIND, "version": VERSION, "scenario": scenario_to_dict(scenario),
            "file": None if file is None else str(file), "modified": bool(modified), "selected": int(selected)}


def write_autosave(path: Path, scenario: Scenario, *, file: Path | None, modified: bool, selected: int) -> None:
    """Write the autosave atomically, compact (no indentation: json's C encoder, several times faster
    than the indenting one on a long price path; the file is the app's, not for reading)."""
    doc = workspace_to_dict(scenario, file=file, modified=modified, selected=selected)
    atomic_write_text(path, json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")))


def check_scenario(profiles: ProfileSet, scenario: Scenario) -> None:
    """Raise InvalidInputError if the scenario's profile is unknown or a position is refused."""
    profile = profiles.get(scenario.exchange)
    quote_account(profile, scenario.account)


def read_autosave(path: Path, profiles: ProfileSet) -> Restored | None:
    """The last workspace, or None when there is none. Raises :class:`DamagedAutosave`."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        doc = read_json_file(path, what="workspace")
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise InvalidInputError("kind", f"expected {KIND!r}")
        if doc.get("version") != VERSION:
            raise InvalidInputError("version", f"expected {VERSION}, got {doc.get('version')!r}")
        scenario = scenario_from_dict(doc.get("scenario"))
        check_scenario(profiles, scenario)
        file = doc.get("file")
        selected = doc.get("selected", 0)
        if not isinstance(selected, int) or not 0 <= selected < max(1, len(scenario.account.positions)):
            selected = 0
        return Restored(scenario=scenario, file=Path(file) if isinstance(file, str) and file else None,
                        modified=bool(doc.get("modified", False)), selected=selected)
    except (ValueError, MarginEngineError) as exc:
        reason = exc.problem if isinstance(exc, FileFormatError) else str(exc)
        raise DamagedAutosave(set_aside(path), reason) from None
