"""Risk-limit tiers (Binance "brackets", Bybit "risk limits", Hyperliquid "margin tiers").

A tier is chosen by **position notional**, never by leverage or margin. Each tier carries a notional
floor and cap, a maximum leverage, a maintenance-margin rate (MMR) and a maintenance amount
("cum" on Binance, "MM deduction" on Bybit, "maintenance deduction" on Hyperliquid) such that

    MM(N) = MMR_k * N - cum_k        for floor_k <= N < cap_k.

When a table omits the maintenance amount it is derived by the recursion that makes MM continuous
in N (docs/domain.md §2):

    cum_1 = 0,   cum_k = cum_{k-1} + floor_k * (MMR_k - MMR_{k-1}).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]


def maintenance_amounts(floors: npt.ArrayLike, mmrs: npt.ArrayLike) -> FloatArray:
    """Maintenance amounts by the continuity recursion.

    Examples
    --------
    Binance BTCUSDT 2024-10-24, first three brackets (published cum 0, 50, 950):

    >>> maintenance_amounts([0, 50_000, 600_000], [0.004, 0.005, 0.0065]).round(6).tolist()
    [0.0, 50.0, 950.0]
    """
    f = np.asarray(floors, dtype=float)
    r = np.asarray(mmrs, dtype=float)
    steps = np.zeros_like(f)
    steps[1:] = f[1:] * np.diff(r)
    return np.cumsum(steps)


@dataclass(frozen=True, slots=True, eq=False)
class TierTable:
    """A contiguous tier table held as sorted numpy arrays (read-only).

    Parameters
    ----------
    floor, cap : notional bounds in quote currency (USDT/USDC); tier k covers floor_k <= N < cap_k.
    max_leverage : the highest leverage a position in that tier may use.
    mmr : maintenance-margin rate of the tier, a fraction (0.004 = 0.4 %).
    cum : maintenance amount of the tier in quote currency.
    """

    floor: FloatArray
    cap: FloatArray
    max_leverage: FloatArray
    mmr: FloatArray
    cum: FloatArray
    # floor_k - MM(floor_k) and floor_k + MM(floor_k): monotone keys that let the liquidation solver
    # find the tier at the liquidation price with one searchsorted (see core.liquidation).
    _key_long: FloatArray = field(init=False, repr=False)
    _key_short: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("floor", "cap", "max_leverage", "mmr", "cum"):
            arr = np.array(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        n = len(self.floor)
        if n == 0:
            raise InvalidInputError("tiers", "a tier table needs at least one tier")
        if any(len(getattr(self, k)) != n for k in ("cap", "max_leverage", "mmr", "cum")):
            raise InvalidInputError("tiers", "floor, cap, max_leverage, mmr and cum differ in length")
        if not np.all(np.isfinite(self.floor)) or not np.all(np.isfinite(self.mmr)):
            raise InvalidInputError("tiers", "floors and rates must be finite numbers")
        if self.floor[0] != 0:
            raise InvalidInputError("tiers[0].floor", f"the first tier must start at 0, got {self.floor[0]:g}")
        if np.any(self.cap <= self.floor):
            k = int(np.argmax(self.cap <= self.floor))
            raise InvalidInputError(f"tiers[{k}].cap", f"must be above its floor {self.floor[k]:g}")
        if np.any(self.floor[1:] != self.cap[:-1]):
            k = int(np.argmax(self.floor[1:] != self.cap[:-1])) + 1
            raise InvalidInputError(
                f"tiers[{k}].floor",
                f"tiers must be contiguous: expected {self.cap[k - 1]:g} (the previous cap), got {self.floor[k]:g}",
            )
        if np.any((self.mmr <= 0) | (self.mmr >= 1)):
            k = int(np.argmax((self.mmr <= 0) | (self.mmr >= 1)))
            raise InvalidInputError(f"tiers[{k}].mmr", f"must lie in (0, 1), got {self.mmr[k]:g}")
        if np.any(np.diff(self.mmr) < 0):
            k = int(np.argmax(np.diff(self.mmr) < 0)) + 1
            raise InvalidInputError(f"tiers[{k}].mmr", "rates must not decrease from one tier to the next")
        if np.any(self.max_leverage < 1):
            k = int(np.argmax(self.max_leverage < 1))
            raise InvalidInputError(f"tiers[{k}].max_leverage", "must be at least 1")
        if not np.all(np.isfinite(self.cum)) or np.any(self.cum < 0):
            k = int(np.argmax(~np.isfinite(self.cum) | (self.cum < 0)))
            raise InvalidInputError(f"tiers[{k}].maintenance_amount", f"must be a finite number >= 0, got {self.cum[k]:g}")
        if n > 1 and self.cum[0] != 0:
            # MM = MMR*N - amount would be negative for every position below amount/MMR: no
            # exchange's first tier has one (a one-tier custom contract may: see core.quote)
            raise InvalidInputError("tiers[0].maintenance_amount",
                                    f"must be 0 in the first tier (MM = MMR x notional - amount would be "
                                    f"negative for small positions), got {self.cum[0]:g}")
        mm_floor = self.mmr * self.floor - self.cum
        key_long = self.floor - mm_floor
        key_short = self.floor + mm_floor
        # The liquidation solver needs N - MM(N) and N + MM(N) to rise from tier to tier; a
        # maintenance amount far off the continuity recursion would let MM fall at a floor.
        bad = (np.diff(key_long) <= 0) | (np.diff(key_short) <= 0) | (mm_floor[1:] < 0)
        if np.any(bad):
            k = int(np.argmax(bad)) + 1
            expected = self.cum[k - 1] + self.floor[k] * (self.mmr[k] - self.mmr[k - 1])
            raise InvalidInputError(
                f"tiers[{k}].maintenance_amount",
                f"{self.cum[k]:g} makes the maintenance margin jump at the tier floor "
                f"{self.floor[k]:g}; the continuity recursion gives {expected:g}")
        key_long.setflags(write=False)
        key_short.setflags(write=False)
        object.__setattr__(self, "_key_long", key_long)
        object.__setattr__(self, "_key_short", key_short)

    @classmethod
    def from_rows(
        cls,
        *,
        floor: npt.ArrayLike,
        cap: npt.ArrayLike,
        max_leverage: npt.ArrayLike,
        mmr: npt.ArrayLike,
        cum: npt.ArrayLike | None = None,
    ) -> TierTable:
        """Build a table; ``cum=None`` derives the maintenance amounts by the recursion."""
        floor_a = np.asarray(floor, dtype=float)
        mmr_a = np.asarray(mmr, dtype=float)
        cum_a = maintenance_amounts(floor_a, mmr_a) if cum is None else np.asarray(cum, dtype=float)
        return cls(floor_a, np.asarray(cap, dtype=float), np.asarray(max_leverage, dtype=float), mmr_a, cum_a)

    @classmethod
    def single(cls, *, mmr: float, max_leverage: float, maintenance_amount: float = 0.0) -> TierTable:
        """One tier covering every notional (a custom contract)."""
        return cls.from_rows(floor=[0.0], cap=[np.inf], max_leverage=[max_leverage], mmr=[mmr],
                             cum=[maintenance_amount])

    def __len__(self) -> int:
        return len(self.floor)

    def check_ladder(self) -> None:
        """Refuse a table that no exchange publishes: the rules every real ladder obeys.

        On top of what every table obeys (contiguous tiers from 0, rates in (0, 1), amounts that
        keep MM continuous or rising), a published ladder also has each tier's MMR **above** the
        previous one, each tier's maximum leverage **at most** the previous one, and MMR below
        1 / max leverage (else a position at that leverage would be liquidatable the moment it
        opened). The profile loader and the tier importers call this; a custom one-tier contract
        (``--mmr``) does not, since a person may ask "what if" of any rate.

        Raises
        ------
        InvalidInputError
            naming ``tiers[k].mmr`` or ``tiers[k].max_leverage``.

        Examples
        --------
        >>> TierTable.from_rows(floor=[0, 50_000], cap=[50_000, 100_000], max_leverage=[50, 75],
        ...                     mmr=[0.01, 0.02]).check_ladder()
        Traceback (most recent call last):
        ...
        core.errors.InvalidInputError: tiers[1].max_leverage: must not rise from one tier to the next: 75 after 50
        """
        for k in range(1, len(self.floor)):
            if self.mmr[k] <= self.mmr[k - 1]:
                raise InvalidInputError(f"tiers[{k}].mmr", f"must rise from one tier to the next: "
                                                           f"{self.mmr[k]:g} after {self.mmr[k - 1]:g}")
            if self.max_leverage[k] > self.max_leverage[k - 1]:
                raise InvalidInputError(f"tiers[{k}].max_leverage", f"must not rise from one tier to the next: "
                                        f"{self.max_leverage[k]:g} after {self.max_leverage[k - 1]:g}")
        bad = self.mmr * self.max_leverage >= 1.0
        if np.any(bad):
            k = int(np.argmax(bad))
            raise InvalidInputError(f"tiers[{k}].mmr", f"{self.mmr[k]:g} is not below 1 / max leverage "
                                    f"{self.max_leverage[k]:g} = {1 / self.max_leverage[k]:g}: a position at that "
                                    "leverage would be liquidatable the moment it opened")

    def with_mmr_offset(self, offset: float) -> TierTable:
        """The same table with every rate raised by ``offset`` (fee_model ``taker_in_mmr``)."""
        if offset == 0:
            return self
        return TierTable(self.floor, self.cap, self.max_leverage, self.mmr + offset, self.cum)

    def index(self, notional: npt.ArrayLike) -> Any:
        """Tier index for a notional: the last tier with ``floor <= notional``.

        A notional at or above the last cap stays in the last tier; validation refuses such positions.

        >>> t = TierTable.from_rows(floor=[0, 50_000], cap=[50_000, 600_000], max_leverage=[125, 100],
        ...                         mmr=[0.004, 0.005])
        >>> t.index([0, 49_999.99, 50_000, 1e9]).tolist()
        [0, 0, 1, 1]
        """
        idx = np.searchsorted(self.floor, notional, side="right") - 1
        return np.clip(idx, 0, len(self.floor) - 1)

    def allows_leverage(self, k: Any, leverage: npt.ArrayLike) -> Any:
        """Whether tier ``k`` accepts ``leverage``: at most its maximum, and strictly below ``1/MMR``.

        At ``L >= 1/MMR`` the initial margin would not exceed the maintenance margin and the
        position would be liquidatable the moment it opened (docs/domain.md §2). Broadcasts.

        >>> t = TierTable.single(mmr=0.01, max_leverage=125)
        >>> t.allows_leverage(0, [50, 99.9, 100, 126]).tolist()
        [True, True, False, False]
        """
        lev = np.asarray(leverage, dtype=float)
        ok = (lev <= self.max_leverage[k]) & (lev * self.mmr[k] < 1.0)
        return bool(ok) if ok.ndim == 0 else ok

    def leverage_cap(self, k: int) -> float:
        """The highest leverage tier ``k`` accepts: ``min(max leverage, just below 1/MMR)``.

        At 1/MMR the opening margin would equal the maintenance margin: liquidated on entry
        (docs/domain.md §2.4).

        >>> TierTable.single(mmr=0.01, max_leverage=125).leverage_cap(0) < 100
        True
        """
        return min(float(self.max_leverage[k]), math.nextafter(1.0 / float(self.mmr[k]), 0.0))

    @property
    def max_notional(self) -> float:
        return float(self.cap[-1])

    def row(self, k: int) -> dict[str, float]:
        return {
            "index": int(k),
            "floor": float(self.floor[k]),
            "cap": float(self.cap[k]),
            "max_leverage": float(self.max_leverage[k]),
            "mmr": float(self.mmr[k]),
            "maintenance_amount": float(self.cum[k]),
        }
