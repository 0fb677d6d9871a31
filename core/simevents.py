"""What the simulator emits: the ledger's party names, events and liquidation records.

Shared by the waterfall's stages (:mod:`core.waterfall`) that produce them and the driver
(:mod:`core.simulate`) that collects them into a :class:`~core.simulate.SimulationResult`; the
``as_dict`` forms are the CLI's ``--json`` contract (``docs/cli.md``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

#: Ledger parties (docs/simulator.md "Money is conserved"); an isolated position's margin is
#: ``trader.isolated.<tag>`` and a counterparty's collateral ``adl.<name>``.
WALLET: Final = "trader.wallet"
SPOT: Final = "trader.spot"
MARKET: Final = "market"
FUND: Final = "insurance_fund"
FEES: Final = "fees"
VAULT: Final = "liquidator_vault"
#: The other side of every funding payment (the traders on the other side of the book, pooled):
#: what the trader pays it receives, what the trader receives it pays (docs/domain.md §9.2).
FUNDING: Final = "funding"


class EventKind(StrEnum):
    ORDERS_CANCELLED = "orders_cancelled"
    LIQUIDATION_TRIGGERED = "liquidation_triggered"
    PARTIAL_LIQUIDATION = "partial_liquidation"
    LIQUIDATION_FILL = "liquidation_fill"
    INSURANCE_FUND_INFLOW = "insurance_fund_inflow"
    INSURANCE_FUND_PAYOUT = "insurance_fund_payout"
    BACKSTOP = "backstop"
    ADL = "adl"
    STOP_TRIGGERED = "stop_triggered"
    MARGIN_ADDED = "margin_added"
    LEVERAGE_CHANGED = "leverage_changed"
    POSITION_REDUCED = "position_reduced"
    ORDER_PLACED = "order_placed"
    ACTION_SKIPPED = "action_skipped"
    FUNDING_PAYMENT = "funding_payment"




def _jnum(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the waterfall. ``price`` is the event's own price (fill, trigger, BP); NaN if none.

    ``amount`` is the money the event moved (realised PnL of a fill, a fund flow, a fee-free margin
    transfer; a funding payment: what the position paid, negative when it received), in the
    settlement currency; ``detail`` carries extra numbers (equity, MM, fee, ...); ``note``
    words where a number will not do (an order's kind, why an action was skipped).
    """

    t: float
    kind: EventKind
    position: str
    mark: float
    last: float
    price: float = math.nan
    qty: float = 0.0
    amount: float = 0.0
    detail: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.kind.value, "position": self.position, "mark": self.mark,
                "last": self.last, "price": _jnum(self.price), "qty": self.qty, "amount": self.amount,
                "detail": {k: _jnum(v) for k, v in self.detail.items()}, "note": self.note}


@dataclass(frozen=True, slots=True)
class LiquidationRecord:
    """The five prices of one liquidation step (docs/domain.md §3): entry, mark at trigger, LP, BP, fill.

    ``kind`` is ``"whole"``, ``"partial"`` or ``"backstop"``; ``fill_price`` is the average book fill
    (NaN when nothing filled in the book: a backstop, or a fully auto-deleveraged close).
    """

    t: float
    position: str
    kind: str
    qty: float
    entry_price: float
    mark_at_trigger: float
    liquidation_price: float
    bankruptcy_price: float
    fill_price: float

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "position": self.position, "kind": self.kind, "qty": self.qty,
                "entry": self.entry_price, "mark_at_trigger": self.mark_at_trigger,
                "liquidation_price": _jnum(self.liquidation_price),
                "bankruptcy_price": _jnum(self.bankruptcy_price), "fill_price": _jnum(self.fill_price)}


