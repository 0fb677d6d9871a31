"""What an exchange reported about an account, kept beside the account for the audit.

When positions are imported from an exchange's own response (``marginlab-cli positions``, File >
Import positions…), the scenario keeps the exchange's figures next to the account as imported:
the liquidation price it showed, its maintenance margin and tier maximum where the response has
them. :mod:`core.audit` compares MarginLab's numbers with these; they are data, never inputs to a
quote. In the scenario file they are the optional top-level ``audit`` section
(docs/scenario-format.md); a file without it reads as before, and a file with it reads back equal.

An entry holds the position **as imported**: the comparison applies while the workspace still
holds that very position (an edited position has no exchange figure to be compared with).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInputError
from core.model import Position
from core.validate import MAX_AMOUNT, MAX_PRICE, number


@dataclass(frozen=True, slots=True)
class Reported:
    """The exchange's own figures for one position, as its response gave them.

    ``liquidation_price`` None means the exchange shows none (Binance ``"0"``, Bybit ``""``,
    Hyperliquid ``null``): the collateral covers the position. ``maintenance_margin`` and
    ``max_leverage`` are None where the response does not carry them. ``leverage`` is the
    leverage the exchange reported when the imported position had to use another (above the
    profile's maximum: it moves only the initial margin). ``symbol`` is the exchange's own name.
    """

    symbol: str
    liquidation_price: float | None
    maintenance_margin: float | None = None
    max_leverage: float | None = None
    leverage: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"symbol": self.symbol, "liquidation_price": self.liquidation_price}
        for key in ("maintenance_margin", "max_leverage", "leverage"):
            v = getattr(self, key)
            if v is not None:
                d[key] = v
        return d


@dataclass(frozen=True, slots=True)
class ReportedEntry:
    """One imported position (``position``, exactly as it entered the account) and its figures."""

    position: Position
    reported: Reported


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A position of the response that is not in the account, and why (unknown symbol, inverse)."""

    symbol: str
    side: str
    qty: float
    entry: float
    liquidation_price: float | None
    reason: str
    mark: float | None = None
    mode: str = "isolated"

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"symbol": self.symbol, "side": self.side, "qty": self.qty, "entry": self.entry,
                             "liquidation_price": self.liquidation_price, "reason": self.reason}
        if self.mark is not None:
            d["mark"] = self.mark
        if self.mode != "isolated":
            d["mode"] = self.mode
        return d


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Where an imported account came from and what the exchange reported for it.

    ``format`` is the response's format (``hyperliquid-state``), ``source`` the file name(s) it was
    read from, ``time_ms`` the response's own timestamp where it has one. ``account_maintenance``
    is the cross maintenance margin the exchange reported for the whole account, if any.
    """

    format: str
    source: str = ""
    time_ms: int | None = None
    entries: tuple[ReportedEntry, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    account_maintenance: float | None = None
    notes: tuple[str, ...] = ()

    def entry_for(self, position: Position, taken: set[int] | None = None) -> tuple[int, ReportedEntry] | None:
        """The first entry (not in ``taken``) imported as exactly ``position``; None when it was edited."""
        for i, e in enumerate(self.entries):
            if e.position == position and (taken is None or i not in taken):
                return i, e
        return None


def _opt_price(where: str, raw: Mapping[str, Any], key: str, *, hi: float = MAX_PRICE,
               zero: bool = False) -> float | None:
    v = raw.get(key)
    return None if v is None else number(f"{where}.{key}", v, lo=0, lo_open=not zero, hi=hi)


def _text(where: str, raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    v = raw.get(key, default)
    if not isinstance(v, str) or len(v) > 200:
        raise InvalidInputError(f"{where}.{key}", f"expected a text of at most 200 characters, got {v!r}"[:200])
    return v


def _object(where: str, raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInputError(where, f"expected an object, got {type(raw).__name__}")
    return raw


def _objects(parent: Mapping[str, Any], where: str, key: str) -> list[tuple[str, Mapping[str, Any]]]:
    """``(json path, object)`` of each item of the optional list ``parent[key]``."""
    items = parent.get(key, [])
    if not isinstance(items, list):
        raise InvalidInputError(f"{where}.{key}", "expected a list")
    return [(f"{where}.{key}[{i}]", _object(f"{where}.{key}[{i}]", x)) for i, x in enumerate(items)]


def reported_from_dict(raw: Any, where: str) -> Reported:
    r = _object(where, raw)
    if "liquidation_price" not in r:
        raise InvalidInputError(f"{where}.liquidation_price", "missing (null where the exchange shows none)")
    return Reported(symbol=_text(where, r, "symbol"), liquidation_price=_opt_price(where, r, "liquidation_price"),
                    maintenance_margin=_opt_price(where, r, "maintenance_margin", hi=MAX_AMOUNT, zero=True),
                    max_leverage=_opt_price(where, r, "max_leverage", hi=1000.0),
                    leverage=_opt_price(where, r, "leverage", hi=1000.0))


def audit_from_dict(raw: Any, position_from_dict: Any) -> AuditRecord:
    """The ``audit`` section; ``position_from_dict`` is :func:`core.scenario.position_from_dict`.

    Raises InvalidInputError whose field is the JSON path (``audit.entries[0].reported...``).
    """
    a = _object("audit", raw)
    out = [ReportedEntry(position=position_from_dict(eo.get("position"), f"{where}.position"),
                         reported=reported_from_dict(eo.get("reported"), f"{where}.reported"))
           for where, eo in _objects(a, "audit", "entries")]
    left_out = []
    for where, xo in _objects(a, "audit", "left_out"):
        left_out.append(LeftOut(
            symbol=_text(where, xo, "symbol"), side=_text(where, xo, "side"),
            qty=number(f"{where}.qty", xo.get("qty"), lo=0), entry=number(f"{where}.entry", xo.get("entry"), lo=0),
            liquidation_price=_opt_price(where, xo, "liquidation_price"), reason=_text(where, xo, "reason"),
            mark=_opt_price(where, xo, "mark"), mode=_text(where, xo, "mode", "isolated")))
    time_ms = a.get("time_ms")
    if time_ms is not None:
        time_ms = int(number("audit.time_ms", time_ms, lo=0, hi=1e15, integer=True))
    notes = a.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise InvalidInputError("audit.notes", "expected a list of texts")
    return AuditRecord(format=_text("audit", a, "format"), source=_text("audit", a, "source", ""), time_ms=time_ms,
                       entries=tuple(out), left_out=tuple(left_out),
                       account_maintenance=_opt_price("audit", a, "account_maintenance", hi=MAX_AMOUNT, zero=True),
                       notes=tuple(notes))


def audit_to_dict(record: AuditRecord, position_to_dict: Any) -> dict[str, Any]:
    """The ``audit`` section as written (None fields left out, so that a read file writes back equal)."""
    d: dict[str, Any] = {"format": record.format}
    if record.source:
        d["source"] = record.source
    if record.time_ms is not None:
        d["time_ms"] = record.time_ms
    if record.account_maintenance is not None:
        d["account_maintenance"] = record.account_maintenance
    d["entries"] = [{"position": position_to_dict(e.position), "reported": e.reported.as_dict()}
                    for e in record.entries]
    if record.left_out:
        d["left_out"] = [x.as_dict() for x in record.left_out]
    if record.notes:
        d["notes"] = list(record.notes)
    return d


def finite_or_none(x: float | None) -> float | None:
    """``x`` where it is a finite number, else None (how "no price" travels in JSON)."""
    return x if x is not None and math.isfinite(x) else None
