"""The versioned scenario file: one JSON format for the CLI (`evaluate`, `simulate`) and the GUI.

Schema (version 1; documented in ``docs/scenario-format.md``)::

    {
      "schema_version": 1,
      "kind": "marginlab.scenario",
      "name": "...", "description": "...",          # optional
      "exchange": "classic",                          # profile id
      "account": {
        "wallet": 0,                                  # cross collateral, quote currency
        "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68000,
                       "leverage": 10, "mode": "isolated", "margin": 34000}],   # margin optional
        "marks": {"BTCUSDT": 68000}                   # optional, default: entry
      },
      "simulation": {...},                            # optional: a core.simspec.SimulationSpec
      "audit": {...}                                  # optional: core.reported.AuditRecord
    }

Older versions are upgraded step by step by the ``_vN_to_vN+1`` functions in ``MIGRATIONS``.
Every problem raises :class:`~core.errors.ScenarioError` naming the file and the field path.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core.errors import FileFormatError, InvalidInputError, ScenarioError
from core.model import Account, MarginMode, Position, Side
from core.persistence import atomic_write_json, read_json_file
from core.reported import AuditRecord, audit_from_dict, audit_to_dict
from core.simspec import SimulationSpec, simulation_from_dict, simulation_to_dict
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY, number

SCHEMA_VERSION: Final = 1
KIND: Final = "marginlab.scenario"

# Ordered upgrade steps: MIGRATIONS[n] turns a version-n document into version n+1.
MIGRATIONS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named account on one profile, plus an optional simulation section (validated when read:
    :func:`core.simspec.simulation_from_dict`; edit it with ``dataclasses.replace``) and, for an
    account imported from an exchange, what the exchange reported (:class:`core.reported.AuditRecord`)."""

    exchange: str
    account: Account
    name: str = ""
    description: str = ""
    simulation: SimulationSpec | None = field(default=None)
    audit: AuditRecord | None = field(default=None)


def _num(where: str, raw: Mapping[str, Any], key: str, *, hi: float, default: float | None = None,
         required: bool = True, lo: float | None = 0.0, lo_open: bool = True) -> float | None:
    if key not in raw:
        if required and default is None:
            raise InvalidInputError(f"{where}.{key}", "missing")
        return default
    v = raw[key]
    if v is None and not required:
        return None
    return number(f"{where}.{key}", v, lo=lo, lo_open=lo_open, hi=hi)


def position_from_dict(raw: Any, where: str = "position") -> Position:
    if not isinstance(raw, dict):
        raise InvalidInputError(where, f"expected an object, got {type(raw).__name__}")
    try:
        side = Side(str(raw.get("side")))
    except ValueError:
        raise InvalidInputError(f"{where}.side", f"expected 'long' or 'short', got {raw.get('side')!r}") from None
    try:
        mode = MarginMode(raw.get("mode", "isolated"))
    except ValueError:
        raise InvalidInputError(f"{where}.mode", f"expected 'isolated' or 'cross', got {raw.get('mode')!r}") from None
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise InvalidInputError(f"{where}.symbol", f"expected a symbol such as 'BTCUSDT', got {symbol!r}")
    try:
        return Position(
            symbol=symbol, side=side,
            qty_base=_num(where, raw, "qty", hi=MAX_QTY),  # type: ignore[arg-type]
            entry_price=_num(where, raw, "entry", hi=MAX_PRICE),  # type: ignore[arg-type]
            leverage=_num(where, raw, "leverage", lo=1.0, lo_open=False, hi=1000.0),  # type: ignore[arg-type]
            mode=mode, margin_usd=_num(where, raw, "margin", required=False, hi=MAX_AMOUNT),
        )
    except InvalidInputError as exc:
        if exc.field.startswith(where):
            raise
        raise InvalidInputError(f"{where}.{exc.field}", exc.reason) from None


def position_to_dict(p: Position) -> dict[str, Any]:
    d: dict[str, Any] = {"symbol": p.symbol, "side": p.side.value, "qty": p.qty_base, "entry": p.entry_price,
                         "leverage": p.leverage, "mode": p.mode.value}
    if p.margin_usd is not None:
        d["margin"] = p.margin_usd
    return d


def scenario_from_dict(doc: Any) -> Scenario:
    """Validate a decoded document (any supported version) and build a :class:`Scenario`.

    Raises :class:`InvalidInputError` whose ``field`` is the JSON path of the problem.
    """
    if not isinstance(doc, dict):
        raise InvalidInputError("(document)", "expected a JSON object")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInputError("schema_version", f"expected an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise InvalidInputError("schema_version", f"{version} is newer than this MarginLab reads "
                                                  f"(up to {SCHEMA_VERSION}); update MarginLab")
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise InvalidInputError("schema_version", f"{version} is not a known version (1-{SCHEMA_VERSION})")
        doc = step(doc)
        version = doc["schema_version"]
    if doc.get("kind", KIND) != KIND:
        raise InvalidInputError("kind", f"expected {KIND!r}, got {doc.get('kind')!r}")
    exchange = doc.get("exchange")
    if not isinstance(exchange, str) or not exchange:
        raise InvalidInputError("exchange", f"expected a profile id such as 'binance', got {exchange!r}")
    acc = doc.get("account")
    if not isinstance(acc, dict):
        raise InvalidInputError("account", "expected an object with wallet and positions")
    raw_positions = acc.get("positions", [])
    if not isinstance(raw_positions, list):
        raise InvalidInputError("account.positions", "expected a list")
    positions = tuple(position_from_dict(p, f"account.positions[{i}]") for i, p in enumerate(raw_positions))
    marks_raw = acc.get("marks", {})
    if not isinstance(marks_raw, dict):
        raise InvalidInputError("account.marks", "expected an object of symbol: price")
    marks = {sym: number(f"account.marks.{sym}", v, lo=0, lo_open=True, hi=MAX_PRICE) for sym, v in marks_raw.items()}
    wallet = _num("account", acc, "wallet", default=0.0, lo=0.0, lo_open=False, hi=MAX_AMOUNT) or 0.0
    account = Account(profile_id=exchange, wallet_usd=wallet, positions=positions,
                      marks=tuple(sorted(marks.items())))
    sim = doc.get("simulation")
    spec = None if sim is None else simulation_from_dict(sim)
    audit = None if doc.get("audit") is None else audit_from_dict(doc["audit"], position_from_dict)
    name = doc.get("name", "")
    desc = doc.get("description", "")
    return Scenario(exchange=exchange, account=account, name=name if isinstance(name, str) else "",
                    description=desc if isinstance(desc, str) else "", simulation=spec, audit=audit)


def scenario_to_dict(sc: Scenario) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": KIND}
    if sc.name:
        doc["name"] = sc.name
    if sc.description:
        doc["description"] = sc.description
    doc["exchange"] = sc.exchange
    doc["account"] = {
        "wallet": sc.account.wallet_usd,
        "positions": [position_to_dict(p) for p in sc.account.positions],
        "marks": dict(sc.account.marks),
    }
    if sc.simulation is not None:
        doc["simulation"] = simulation_to_dict(sc.simulation)
    if sc.audit is not None:
        doc["audit"] = audit_to_dict(sc.audit, position_to_dict)
    return doc


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; every problem names the file and the field path."""
    path = Path(path)
    try:
        doc = read_json_file(path, what="scenario file")
    except FileFormatError as exc:
        raise ScenarioError(str(path), "", exc.problem) from None
    try:
        return scenario_from_dict(doc)
    except InvalidInputError as exc:
        raise ScenarioError(str(path), exc.field, exc.reason) from None


def save_scenario(path: Path | str, sc: Scenario) -> None:
    """Atomic save (temp file, fsync, rename) in the current schema version."""
    atomic_write_json(path, scenario_to_dict(sc))
