"""The versioned scenario file: one JSON format for the CLI (`evaluate`, `simulate`) and the GUI.

Schema (version 2; documented in ``docs/scenario-format.md``)::

    {
      "schema_version": 2,
      "kind": "marginlab.scenario",
      "name": "...", "description": "...",          # optional
      "exchange": "classic",                          # profile id
      "account": {
        "position_mode": "one_way",                   # or "hedge"; optional (see below)
        "wallet": 0,                                  # cross collateral, the contracts' settle asset
        "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": 5, "entry": 68000,
                       "leverage": 10, "mode": "isolated", "margin": 34000,       # margin optional
                       "funding_paid": 0}],                                        # optional
        "marks": {"BTCUSDT": 68000},                  # optional, default: entry
        "fees": {"maker": 0.0002, "taker": 0.0005, "open": "taker", "close": "taker"}  # optional
      },
      "simulation": {...},                            # optional: a core.simspec.SimulationSpec
      "audit": {...}                                  # optional: core.reported.AuditRecord
    }

A file without ``account.position_mode`` (every file written before it existed) is read with no
loss: as ``hedge`` when it holds a long and a short on one symbol (the shipped hedge lessons do),
else as ``one_way``; two positions on the same side of one symbol cannot be held in either mode and
are refused in one message (:func:`core.model.infer_position_mode`).

Older versions are upgraded step by step by the ``_vN_to_vN+1`` functions in ``MIGRATIONS``.
Every problem raises :class:`~core.errors.ScenarioError` naming the file and the field path.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core.errors import FileFormatError, InvalidInputError, ScenarioError
from core.model import (
    MAKER_FEE_RANGE,
    TAKER_FEE_RANGE,
    Account,
    FeeRates,
    Liquidity,
    MarginMode,
    Position,
    PositionMode,
    Side,
    check_position_mode,
    infer_position_mode,
)
from core.persistence import atomic_write_json, read_json_file
from core.reported import AuditRecord, audit_from_dict, audit_to_dict
from core.simspec import SimulationSpec, simulation_from_dict, simulation_to_dict
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY, number

SCHEMA_VERSION: Final = 2
KIND: Final = "marginlab.scenario"


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds optional keys only (``account.fees``, ``positions[i].funding_paid``,
    ``simulation.funding``, ``account.position_mode``): a version-1 document reads unchanged. The number moved so that an older
    MarginLab refuses a file that uses them ("update MarginLab") instead of ignoring the fees."""
    return {**doc, "schema_version": 2}


# Ordered upgrade steps: MIGRATIONS[n] turns a version-n document into version n+1.
MIGRATIONS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {1: _v1_to_v2}


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
            funding_paid=_num(where, raw, "funding_paid", default=0.0, lo=-MAX_AMOUNT, lo_open=False,
                              hi=MAX_AMOUNT) or 0.0,
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
    if p.funding_paid:
        d["funding_paid"] = p.funding_paid
    return d


def fees_from_dict(raw: Any, where: str = "account.fees") -> FeeRates:
    """``account.fees``: the account's own ``maker`` and ``taker`` rates (optional) and whether it
    ``open``s and ``close``s with ``maker`` or ``taker`` orders (default taker)."""
    if not isinstance(raw, dict):
        raise InvalidInputError(where, f"expected an object, got {type(raw).__name__}")
    extra = sorted(set(raw) - {"maker", "taker", "open", "close"})
    if extra:
        raise InvalidInputError(f"{where}.{extra[0]}", "unknown key; known keys: close, maker, open, taker")
    kw: dict[str, Any] = {}
    for key, (lo, hi) in (("maker", MAKER_FEE_RANGE), ("taker", TAKER_FEE_RANGE)):
        if raw.get(key) is not None:
            kw[key] = number(f"{where}.{key}", raw[key], lo=lo, hi=hi)
    for key in ("open", "close"):
        if key in raw:
            try:
                kw[key] = Liquidity(raw[key])
            except ValueError:
                raise InvalidInputError(f"{where}.{key}", f"expected 'maker' or 'taker', got {raw[key]!r}") from None
    return FeeRates(**kw)


def fees_to_dict(fees: FeeRates) -> dict[str, Any]:
    """The inverse of :func:`fees_from_dict` (rates left to the profile are left out)."""
    d: dict[str, Any] = {k: v for k, v in (("maker", fees.maker), ("taker", fees.taker)) if v is not None}
    return {**d, "open": fees.open.value, "close": fees.close.value}


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
    if "position_mode" in acc:
        try:
            mode = PositionMode(acc["position_mode"])
        except (ValueError, TypeError):
            raise InvalidInputError("account.position_mode", f"expected 'one_way' or 'hedge', got "
                                                             f"{acc['position_mode']!r}"[:200]) from None
        try:
            check_position_mode(Account("", 0.0, positions, position_mode=mode))
        except InvalidInputError as exc:
            raise InvalidInputError("account.position_mode", exc.reason) from None
    else:
        try:
            mode = infer_position_mode(positions)
        except InvalidInputError as exc:
            raise InvalidInputError("account.position_mode", f"this file has no position_mode and its "
                                                             f"positions fit neither mode: {exc.reason}") from None
    fees = FeeRates() if acc.get("fees") is None else fees_from_dict(acc["fees"])
    account = Account(profile_id=exchange, wallet_usd=wallet, positions=positions,
                      marks=tuple(sorted(marks.items())), position_mode=mode, fees=fees)
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
        "position_mode": sc.account.position_mode.value,
        "wallet": sc.account.wallet_usd,
        "positions": [position_to_dict(p) for p in sc.account.positions],
        "marks": dict(sc.account.marks),
    }
    if sc.account.fees != FeeRates():
        doc["account"]["fees"] = fees_to_dict(sc.account.fees)
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
