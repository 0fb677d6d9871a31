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

from core.errors import InvalidInputError, MarginEngineError
from core.model import Account, MarginMode, Position, Side
from core.persistence import atomic_write_json, keep_aside
from core.profiles import Profile, ProfileSet
from core.quote import quote_account
from core.scenario import Scenario, scenario_from_dict, scenario_to_dict

KIND: Final = "marginlab.workspace"
VERSION: Final = 1
EXAMPLE_NAME: Final = "Source FAQ example: 5 BTC long at 68,000, 10x isolated"
EXAMPLE_FREE_BALANCE: Final = 20_000.0  # spare wallet so the what-if panel can add margin


def example_scenario(profile: Profile) -> Scenario:
    """The source FAQ's position (5 BTC long at 68,000, 10x isolated) on ``profile``.

    On the classic profile it gives LP 61,880 and BP 61,200 (DOMAIN.md §5). Other profiles get the
    same position on their BTC contract.
    """
    symbol = next((s for s in profile.symbols if s.upper().startswith("BTC")), profile.symbols[0])
    pos = Position(symbol=symbol, side=Side.LONG, qty_base=5.0, entry_price=68_000.0, leverage=10.0,
                   mode=MarginMode.ISOLATED)
    acct = Account(profile_id=profile.id, wallet_usd=EXAMPLE_FREE_BALANCE, positions=(pos,),
                   marks=((symbol, 68_000.0),))
    return Scenario(exchange=profile.id, account=acct, name=EXAMPLE_NAME if profile.id == "classic" else
                    f"5 BTC long at 68,000, 10x isolated ({profile.name})")


@dataclass(frozen=True, slots=True)
class Restored:
    scenario: Scenario
    file: Path | None
    modified: bool
    selected: int


class DamagedAutosave(Exception):
    """The autosave could not be used; it was kept aside at ``kept``."""

    def __init__(self, kept: Path, reason: str) -> None:
        super().__init__(f"The last workspace could not be restored ({reason}); the file was kept as {kept}.")
        self.kept = kept
        self.reason = reason


def workspace_to_dict(scenario: Scenario, *, file: Path | None, modified: bool, selected: int) -> dict[str, Any]:
    return {"kind": KIND, "version": VERSION, "scenario": scenario_to_dict(scenario),
            "file": None if file is None else str(file), "modified": bool(modified), "selected": int(selected)}


def write_autosave(path: Path, scenario: Scenario, *, file: Path | None, modified: bool, selected: int) -> None:
    atomic_write_json(path, workspace_to_dict(scenario, file=file, modified=modified, selected=selected))


def check_scenario(profiles: ProfileSet, scenario: Scenario) -> None:
    """Raise InvalidInputError if the scenario's profile is unknown or a position is refused."""
    profile = profiles.get(scenario.exchange)
    quote_account(profile, scenario.account)


def read_autosave(path: Path, profiles: ProfileSet) -> Restored | None:
    """The last workspace, or None when there is none. Raises :class:`DamagedAutosave`."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
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
    except (OSError, UnicodeDecodeError, ValueError, MarginEngineError) as exc:
        kept = keep_aside(path)
        raise DamagedAutosave(kept, str(exc)) from None
