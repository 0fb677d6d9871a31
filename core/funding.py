"""Funding: the payment each interval, where it is booked, and the balances after many intervals.

Longs and shorts of a perpetual exchange a payment every funding interval: the position's value at
the mark times the rate, paid by longs to shorts when the rate is positive (docs/domain.md §9.1).
Where the payment is booked decides whether an isolated liquidation price moves
(:class:`core.profiles.FundingBooking`, docs/domain.md §9.2). The functions here are the rules;
the simulator (:func:`core.waterfall.pay_funding`), the live feed and the "hold for N days"
what-if (:func:`core.whatif.hold_with_funding`) all call them, so all three book alike.

Amounts are in the settlement currency. A payment is the position's value by the engine's one
notional rule (:func:`core.margin.notional`) times the rate, signed by the position's own side, so
an inverse contract (value in coin, contracts x size / mark) pays in coin with no rule of its own
(docs/domain.md §9.6).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.margin import _out, settle_notional, side_sign
from core.profiles import FundingBooking, Profile

ArrayLike = npt.ArrayLike

#: The interest part of the funding rate when premium and interest agree: 0.01 % per 8 hours
#: (Binance's 0.03 % a day; Hyperliquid's 0.00125 % an hour). docs/domain.md §9.1.
BASE_RATE_PER_8H: Final = 0.0001


def position_value(profile: Profile, symbol: str, *, qty: ArrayLike, price: ArrayLike) -> Any:
    """A position's value at ``price`` in the settlement currency, what funding is a rate of.

    The engine's notional rule in the contract's settle asset (:func:`core.margin.settle_notional`:
    ``q x P`` for a linear contract, ``contracts x size / P`` in coin for an inverse one); every
    funding payment values the position through here. docs/domain.md §9.6.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> position_value(load_profile(exchanges_dir() / "classic.toml"), "BTCUSDT", qty=5, price=68_000)
    340000.0
    """
    return settle_notional(profile.contract(symbol), qty, price)


def funding_payment(*, side: ArrayLike, value: ArrayLike, rate: ArrayLike) -> Any:
    """What the position pays at one funding time: ``s x value x rate`` (negative: it receives).

    ``value`` is the position's value at the mark at the funding time (:func:`position_value`). A
    positive rate makes longs pay and shorts receive; ``side`` is the position's own (a long is +1
    whatever the contract type).
    Source: docs/domain.md §9.1 (Binance, "Funding Amount = Nominal Value of Positions x Funding
    Rate", https://www.binance.com/en/support/faq/introduction-to-binance-futures-funding-rates-360033525031;
    Bybit, funding fee = position value x funding rate).

    Examples
    --------
    5 BTC long valued at 68,000, rate 0.01 %: the long pays 340,000 x 0.0001 = 34 USDT; the short
    of the same size receives it.

    >>> round(funding_payment(side=1, value=340_000, rate=0.0001), 10), funding_payment(side=-1, value=340_000, rate=0.0001)
    (34.0, -34.0)
    """
    s = np.asarray(side_sign(side), dtype=float)
    return _out(s * np.asarray(value, dtype=float) * np.asarray(rate, dtype=float))


def default_funding_rate(interval_h: float) -> float:
    """The rate per interval a workspace uses when it names none: 0.01 % per 8 hours, pro rata.

    That is the interest component every large venue adds (Binance 0.03 % a day; Hyperliquid
    0.01 % per 8 h paid hourly as 0.00125 %), i.e. the rate when the premium is zero.
    docs/domain.md §9.1.

    >>> default_funding_rate(8), default_funding_rate(1)
    (0.0001, 1.25e-05)
    """
    return BASE_RATE_PER_8H * float(interval_h) / 8.0


def funding_times(t0: float, t1: float, interval_s: float) -> np.ndarray:
    """The funding times in ``(t0, t1]``: the multiples of ``interval_s`` (time 0 is a funding time).

    A position held across a multiple of the interval pays there; one opened at ``t0`` pays first
    at the next multiple (exchanges charge only positions open at the funding time).

    >>> funding_times(0.0, 86_400.0, 28_800.0).tolist()
    [28800.0, 57600.0, 86400.0]
    """
    first = math.floor(t0 / interval_s) + 1
    last = math.floor(t1 / interval_s + 1e-9)
    return np.arange(first, last + 1, dtype=float) * interval_s


def cross_commitment(*, initial_margins: Sequence[float], upnls: Sequence[float]) -> float:
    """What the cross positions hold of the wallet: ``sum(IM - min(uPnL, 0))``.

    Unrealised losses and the cross positions' opening margin are spoken for; unrealised profit
    is not counted (it cannot be withdrawn). :func:`available_balance` subtracts it from the wallet.
    docs/domain.md §11 item 12.

    >>> cross_commitment(initial_margins=[1_000, 500], upnls=[-200, 300])
    1700.0
    """
    return math.fsum(im - min(u, 0.0) for im, u in zip(initial_margins, upnls, strict=True))


def available_balance(wallet: float, commitment: float) -> float:
    """The free (available) balance: ``max(wallet - cross commitment, 0)``.

    What the trader may move into new margin (:func:`core.whatif.free_balance`), and where Bybit
    takes an isolated position's funding from first (:func:`funding_split`).

    >>> available_balance(10_000, 1_700), available_balance(1_000, 1_700)
    (8300.0, 0.0)
    """
    return max(float(wallet) - float(commitment), 0.0)


def funding_split(payment: float, *, cross: bool, booking: FundingBooking, available: float) -> tuple[float, float]:
    """Where one funding payment is booked: ``(from the wallet, from the position's margin)``.

    Negative parts are money received. The rule (docs/domain.md §9.2):

    * a **cross** position: all of it from (to) the shared wallet;
    * an **isolated** position under ``isolated_margin`` (Binance, BitMEX, Hyperliquid): all of it
      from (to) its own margin, so its liquidation price moves at every payment;
    * an **isolated** position under ``available_first`` (Bybit): a payment comes out of the
      available balance while it lasts and only the rest out of the position margin; money received
      goes to the available balance (the wallet). The liquidation price stays put until the
      available balance runs out.

    Examples
    --------
    A Bybit isolated long paying 34 with 20 available: 20 from the wallet, 14 from its margin.

    >>> funding_split(34.0, cross=False, booking=FundingBooking.AVAILABLE_FIRST, available=20.0)
    (20.0, 14.0)
    >>> funding_split(34.0, cross=False, booking=FundingBooking.ISOLATED_MARGIN, available=20.0)
    (0.0, 34.0)
    """
    if cross:
        return payment, 0.0
    if booking is FundingBooking.ISOLATED_MARGIN:
        return 0.0, payment
    if payment <= 0:
        return payment, 0.0
    from_wallet = min(payment, max(available, 0.0))
    return from_wallet, payment - from_wallet


@dataclass(frozen=True, slots=True)
class FundingPath:
    """Balances after each of ``n`` funding intervals at constant payments (row ``k``: after ``k``).

    ``wallet`` has shape ``(n + 1,)``; ``margin`` and ``paid`` have shape ``(n + 1, positions)``:
    each position's margin (isolated ones; a cross position's column stays as given) and the
    funding it has paid in all (negative: received).
    """

    wallet: np.ndarray
    margin: np.ndarray
    paid: np.ndarray


def funding_path(*, payments: Sequence[float], cross: Sequence[bool], booking: FundingBooking, wallet: float,
                 margins: Sequence[float], commitment: float, n: int) -> FundingPath:
    """Book ``n`` intervals of the same payments (a constant mark and rate), interval after interval.

    Each interval books every position's payment in index order by :func:`funding_split`, the
    available balance being ``available_balance(wallet, commitment)`` as the wallet stands at that
    moment -- exactly what the simulator does at each funding time. ``commitment`` stays fixed
    (the marks do not move). Positions that pay nothing (another symbol) give a payment of 0.

    Where no isolated position pays from the available balance, every interval books the same
    amounts and the path is the first interval's times ``k``; otherwise the intervals are booked
    one by one until the available balance can no longer change the split.

    Examples
    --------
    A Bybit isolated long paying 34 a time with a free balance of 50: two payments from the wallet
    (the second only 16 of it), then everything from the margin.

    >>> p = funding_path(payments=[34.0], cross=[False], booking=FundingBooking.AVAILABLE_FIRST, wallet=50.0,
    ...                  margins=[1_000.0], commitment=0.0, n=3)
    >>> p.wallet.tolist(), p.margin[:, 0].tolist()
    ([50.0, 16.0, 0.0, 0.0], [1000.0, 1000.0, 982.0, 948.0])
    """
    c = np.asarray(payments, dtype=float)
    m = c.size
    w0 = float(wallet)
    m0 = np.asarray(margins, dtype=float)
    ks = np.arange(n + 1, dtype=float)
    paid = ks[:, None] * c[None, :]
    pool_matters = booking is FundingBooking.AVAILABLE_FIRST and any(
        ci > 0 and not x for ci, x in zip(c, cross, strict=True))
    if not pool_matters:
        split = np.array([funding_split(float(c[i]), cross=bool(cross[i]), booking=booking, available=0.0)
                          for i in range(m)], dtype=float).reshape(m, 2)
        return FundingPath(wallet=w0 - ks * split[:, 0].sum(), margin=m0[None, :] - ks[:, None] * split[None, :, 1],
                           paid=paid)
    wallets = np.empty(n + 1)
    margin = np.empty((n + 1, m))
    wallets[0], margin[0] = w0, m0
    w, mg = w0, m0.copy()
    k = 0
    while k < n:
        before = w
        for i in range(m):
            from_wallet, from_margin = funding_split(float(c[i]), cross=bool(cross[i]), booking=booking,
                                                     available=available_balance(w, commitment))
            w -= from_wallet
            mg[i] -= from_margin
        k += 1
        wallets[k], margin[k] = w, mg
        if w <= before and available_balance(before, commitment) <= 0.0:
            # the available balance was empty and the wallet does not grow: it stays empty, and
            # every later interval books the same
            step_w, step_m = w - wallets[k - 1], mg - margin[k - 1]
            rest = np.arange(1, n - k + 1, dtype=float)
            wallets[k + 1:] = w + rest * step_w
            margin[k + 1:] = mg[None, :] + rest[:, None] * step_m[None, :]
            break
    return FundingPath(wallet=wallets, margin=margin, paid=paid)


def intervals_to_liquidation(*, equity: float, maintenance: float, payment: float) -> float:
    """The closed form for one position whose payments come out of its own collateral at a constant
    mark: the first ``n`` with ``equity - n x payment < MM``; ``inf`` when it does not pay.

    ``n* = floor((equity - MM) / payment) + 1`` (0 when already below). It holds while MM does
    not depend on the collateral; the what-if solves it with the engine in every case
    (:func:`core.whatif.hold_with_funding`). docs/domain.md §9.3.

    >>> intervals_to_liquidation(equity=500, maintenance=10, payment=5)   # the Binance post: day 33
    99.0
    """
    if equity < maintenance:
        return 0.0
    if payment <= 0:
        return math.inf
    return float(math.floor((equity - maintenance) / payment) + 1)
