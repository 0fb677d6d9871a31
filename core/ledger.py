"""A double-entry ledger: every balance change is a transfer between two named parties.

Money is conserved by construction: a transfer debits one party and credits another by the same
amount, so the sum of all balances never changes. The simulator names its parties
``trader.wallet`` (cross collateral), ``trader.isolated.<symbol>`` (one isolated position's margin),
``trader.spot`` (money the trader deposits during the run), ``market`` (every other trader: the
counterpart of realised PnL), ``insurance_fund``, ``fees``, ``liquidator_vault`` (the backstop) and
one party per auto-deleveraging counterparty.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Transfer:
    """``amount`` (>= 0, quote currency) moved from ``src`` to ``dst`` at time ``t`` (seconds)."""

    t: float
    src: str
    dst: str
    amount: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"t": self.t, "from": self.src, "to": self.dst, "amount": self.amount, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PartyBalance:
    name: str
    start: float
    end: float

    @property
    def change(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "end": self.end}


class Ledger:
    """Opening balances plus an append-only list of transfers.

    Mutable while a simulation runs (it lives inside one call); :meth:`parties` and
    :attr:`transfers` hand out frozen records.

    Examples
    --------
    >>> led = Ledger({"trader.isolated.BTCUSDT": 34_000.0, "insurance_fund": 0.0, "market": 0.0})
    >>> led.transfer(1.0, "trader.isolated.BTCUSDT", "market", 32_500.0, "realised loss at fill")
    >>> led.transfer(1.0, "trader.isolated.BTCUSDT", "insurance_fund", 1_500.0, "surplus")
    >>> led.balance("trader.isolated.BTCUSDT"), led.balance("insurance_fund"), led.balance("market")
    (0.0, 1500.0, 32500.0)
    """

    def __init__(self, opening: Mapping[str, float] | None = None) -> None:
        self._opening: dict[str, float] = {}
        self._balance: dict[str, float] = {}
        self._transfers: list[Transfer] = []
        for name, amount in (opening or {}).items():
            self.open(name, amount)

    def open(self, name: str, amount: float = 0.0) -> None:
        """Create a party with its opening balance (a party is opened once)."""
        if name in self._opening:
            raise InvalidInputError(f"party {name}", "is already open")
        if not math.isfinite(amount):
            raise InvalidInputError(f"party {name}", f"opening balance must be finite, got {amount!r}")
        self._opening[name] = float(amount)
        self._balance[name] = float(amount)

    def ensure(self, name: str) -> None:
        if name not in self._opening:
            self.open(name, 0.0)

    def transfer(self, t: float, src: str, dst: str, amount: float, reason: str) -> None:
        """Move ``amount`` from ``src`` to ``dst``; a negative amount moves it the other way.

        A zero amount records nothing. Both parties must be open.
        """
        if not math.isfinite(amount):
            raise InvalidInputError("amount", f"must be finite, got {amount!r}")
        if amount < 0:
            src, dst, amount = dst, src, -amount
        for p in (src, dst):
            if p not in self._balance:
                raise InvalidInputError(f"party {p}", "is not open")
        if src == dst:
            raise InvalidInputError("transfer", f"from and to are the same party {src!r}")
        if amount == 0:
            return
        self._balance[src] -= amount
        self._balance[dst] += amount
        self._transfers.append(Transfer(float(t), src, dst, float(amount), reason))

    def balance(self, name: str) -> float:
        return self._balance[name]

    @property
    def transfers(self) -> tuple[Transfer, ...]:
        return tuple(self._transfers)

    def parties(self) -> tuple[PartyBalance, ...]:
        return tuple(PartyBalance(n, self._opening[n], self._balance[n]) for n in self._opening)


def replay(opening: Mapping[str, float], transfers: Iterable[Transfer]) -> dict[str, float]:
    """End balances recomputed from the opening balances and the transfers alone (for audits)."""
    bal = dict(opening)
    for tr in transfers:
        bal[tr.src] = bal.get(tr.src, 0.0) - tr.amount
        bal[tr.dst] = bal.get(tr.dst, 0.0) + tr.amount
    return bal
