"""Trading fees and what they do to PnL: fee per fill, net PnL and ROE, break-even, exit for a net ROE.

Every function broadcasts over numpy arrays (a float for scalar input, an array otherwise) and
takes the position in the engine's linear frame: ``side`` +1/-1, ``qty``, prices in the quote
currency, amounts in the settlement currency. Each fee is a rate times the position's value at the
fill, :func:`trade_fee`, so the value is computed by the engine's one notional rule
(:func:`core.margin.notional`); a position the engine maps to that frame (an inverse contract in
size/price) pays its fees in the settlement coin with no formula of its own (docs/domain.md §9.6).

The rules (docs/domain.md §9.4-§9.5)::

    fee                 = rate x value at the fill                      (open at the entry, close at the exit)
    net PnL             = s x q x (X - EP) - open fee - close fee at X - funding paid
    exit for a net PnL  = (target + s x q x EP + open fee + F) / (q x (s - f_close))
    break-even          = the exit for a net PnL of 0  (long: EP (1 + f_o) / (1 - f_c), no funding)
    exit for a net ROE  = the exit for a net PnL of ROE x margin

Rates come from the profile (``maker_fee``, ``taker_fee``), overridden by the account's own
(:class:`core.model.FeeRates`, a VIP tier), and each order is a maker or a taker order
(:func:`order_fee_rates`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from core.margin import _out, notional, pnl_at_exit, side_sign
from core.model import FeeRates, Liquidity
from core.profiles import Profile

ArrayLike = npt.ArrayLike


def trade_fee(*, qty: ArrayLike, price: ArrayLike, rate: ArrayLike) -> Any:
    """The fee of one fill: ``rate x value of qty at price`` (negative for a maker rebate).

    The one fee rule: opening fee (at the entry), closing fee (at the exit), the simulator's trader
    closes and liquidation fills (:func:`core.orders.close_at`) all charge it.
    Source: docs/domain.md §9.4 (Binance, "Binance Futures Fee Structure & Fee Calculations",
    https://binance.com/fr/support/faq/360033544231).

    Examples
    --------
    Binance's own USDⓈ-M example: buy 1 BTC at 10,104 by market (taker 0.05 %) and sell it at
    11,104 by a limit order (maker 0.02 %): 5.052 USDT and 2.2208 USDT.

    >>> round(trade_fee(qty=1, price=10_104, rate=0.0005), 10), round(trade_fee(qty=1, price=11_104, rate=0.0002), 10)
    (5.052, 2.2208)
    """
    return _out(np.asarray(rate, dtype=float) * np.asarray(notional(qty, price), dtype=float))


def net_pnl(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike, open_rate: ArrayLike,
            close_rate: ArrayLike, funding_paid: ArrayLike = 0.0) -> Any:
    """PnL of a round trip after both fees and the funding paid: what a closed-P&L record shows.

    ``s q (X - EP) - fee(q, EP, f_open) - fee(q, X, f_close) - F``; ``F`` is the funding the
    position paid while open (negative when it received). docs/domain.md §9.5.

    Examples
    --------
    Bybit's closed P&L example ("P&L calculations (USDT Contract)", copy at
    https://www.pastorq.com/7518.html): short 0.4 BTC from 6,000 closed at 5,000, taker 0.055 %
    both ways, 2.10 USDT of funding paid: 400 - 1.32 - 1.10 - 2.10 = 395.48 USDT.

    >>> round(net_pnl(side=-1, qty=0.4, entry=6_000, exit_price=5_000, open_rate=0.00055,
    ...               close_rate=0.00055, funding_paid=2.10), 10)
    395.48
    """
    gross = np.asarray(pnl_at_exit(side=side, qty=qty, entry=entry, exit_price=exit_price), dtype=float)
    fees = (np.asarray(trade_fee(qty=qty, price=entry, rate=open_rate), dtype=float)
            + np.asarray(trade_fee(qty=qty, price=exit_price, rate=close_rate), dtype=float))
    return _out(gross - fees - np.asarray(funding_paid, dtype=float))


def net_roe(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike, margin: ArrayLike,
            open_rate: ArrayLike, close_rate: ArrayLike, funding_paid: ArrayLike = 0.0) -> Any:
    """:func:`net_pnl` over the margin put up; NaN where the margin is not positive. docs/domain.md §9.5.

    >>> round(net_roe(side=1, qty=5, entry=68_000, exit_price=71_400, margin=34_000,
    ...               open_rate=0.0005, close_rate=0.0005), 6)   # 17,000 - 170 - 178.50 on 34,000
    0.48975
    """
    pnl = np.asarray(net_pnl(side=side, qty=qty, entry=entry, exit_price=exit_price, open_rate=open_rate,
                             close_rate=close_rate, funding_paid=funding_paid), dtype=float)
    m = np.asarray(margin, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(m > 0, pnl / np.where(m > 0, m, 1.0), np.nan))


def exit_for_net_pnl(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, pnl: ArrayLike, open_rate: ArrayLike,
                     close_rate: ArrayLike, funding_paid: ArrayLike = 0.0) -> Any:
    """The exit price at which :func:`net_pnl` equals ``pnl``; NaN where that is no positive price.

    Notes
    -----
    ``net(X) = s q (X - EP) - f_o q EP - f_c q X - F`` is linear in ``X``, so::

        X = (pnl + s q EP + fee(q, EP, f_o) + F) / (q (s - f_c))

    (the close fee is charged on the exit's own value, hence ``s - f_c``; a formula that adds both
    rates to the entry misses that). docs/domain.md §9.5.

    Examples
    --------
    10 % net on a 1 BTC long at 68,000 with 6,800 margin, taker 0.05 % both ways:
    (680 + 68,000 + 34) / 0.9995 = 68,748.37.

    >>> round(exit_for_net_pnl(side=1, qty=1, entry=68_000, pnl=680, open_rate=0.0005, close_rate=0.0005), 2)
    68748.37
    """
    s = np.asarray(side_sign(side), dtype=float)
    q = np.asarray(qty, dtype=float)
    fo = np.asarray(trade_fee(qty=q, price=entry, rate=open_rate), dtype=float)
    num = (np.asarray(pnl, dtype=float) + s * np.asarray(notional(q, entry), dtype=float) + fo
           + np.asarray(funding_paid, dtype=float))
    den = q * (s - np.asarray(close_rate, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = num / den
    return _out(np.where(np.isfinite(x) & (x > 0), x, np.nan))


def break_even_price(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, open_rate: ArrayLike,
                     close_rate: ArrayLike, funding_paid: ArrayLike = 0.0) -> Any:
    """The exit at which the round trip nets zero after both fees and the funding paid so far.

    :func:`exit_for_net_pnl` with a target of 0: long ``(EP (1 + f_o) + F/q) / (1 - f_c)``, short
    ``(EP (1 - f_o) - F/q) / (1 + f_c)``. This is MarginLab's fee-inclusive break-even; Binance's
    app shows a "breakeven" that leaves fees and funding out (docs/domain.md §9.5).

    Examples
    --------
    https://www.tradingcalc.io/crypto-breakeven-calculator: a long at 65,000 with 0.05 % to open
    and 0.05 % to close breaks even at 65,065.03 (65,032.5 / 0.9995 = 65,065.0325).

    >>> round(break_even_price(side=1, qty=1, entry=65_000, open_rate=0.0005, close_rate=0.0005), 2)
    65065.03
    """
    return exit_for_net_pnl(side=side, qty=qty, entry=entry, pnl=0.0, open_rate=open_rate,
                            close_rate=close_rate, funding_paid=funding_paid)


def exit_for_net_roe(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, margin: ArrayLike, roe: ArrayLike,
                     open_rate: ArrayLike, close_rate: ArrayLike, funding_paid: ArrayLike = 0.0) -> Any:
    """The exit giving a net return ``roe`` (a fraction) on ``margin``: :func:`exit_for_net_pnl` of
    ``roe x margin``. Both fees count, the close fee at the exit itself. docs/domain.md §9.5.

    >>> round(exit_for_net_roe(side=1, qty=5, entry=68_000, margin=34_000, roe=0.5, open_rate=0.0005,
    ...                        close_rate=0.0005), 2)   # (17,000 + 340,000 + 170) / (5 x 0.9995)
    71469.73
    """
    pnl = np.asarray(roe, dtype=float) * np.asarray(margin, dtype=float)
    return exit_for_net_pnl(side=side, qty=qty, entry=entry, pnl=pnl, open_rate=open_rate, close_rate=close_rate,
                            funding_paid=funding_paid)


def size_for_net_risk(*, balance: ArrayLike, risk: ArrayLike, entry: ArrayLike, stop: ArrayLike,
                      open_rate: ArrayLike, close_rate: ArrayLike) -> Any:
    """Size whose loss at the stop, both fees included, is ``risk x balance``; NaN where none.

    ``q = balance x risk / (|EP - stop| + f_o EP + f_c stop)``: the fee to open at the entry and
    the fee to close at the stop, per unit, join the price distance (before slippage).
    docs/domain.md §9.5.

    >>> round(size_for_net_risk(balance=10_000, risk=0.01, entry=68_000, stop=66_000, open_rate=0.0005,
    ...                         close_rate=0.0005), 6)   # 100 / (2,000 + 34 + 33)
    0.048379
    """
    b = np.asarray(balance, dtype=float)
    r = np.asarray(risk, dtype=float)
    per_unit = (np.abs(np.asarray(entry, dtype=float) - np.asarray(stop, dtype=float))
                + np.asarray(trade_fee(qty=1.0, price=entry, rate=open_rate), dtype=float)
                + np.asarray(trade_fee(qty=1.0, price=stop, rate=close_rate), dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(per_unit > 0, b * r / np.where(per_unit > 0, per_unit, 1.0), np.nan)
    return _out(q)


def with_fee_rates(profile: Profile, fees: FeeRates | None) -> Profile:
    """``profile`` with the account's own maker and taker rates (a VIP tier) in its rules.

    Every rule that reads a fee rate (the fees here, Bybit's fee to close, ``taker_in_mmr``, the
    simulator's closes) then uses the account's rate. ``None`` or no override: ``profile`` itself.

    >>> from core.profiles import Rules
    >>> p = Profile(id="x", name="x", as_of="2025-01-01", source="s", rules=Rules(taker_fee=0.0005), contracts={})
    >>> with_fee_rates(p, FeeRates(taker=0.0004)).rules.taker_fee
    0.0004
    """
    if fees is None or (fees.maker is None and fees.taker is None):
        return profile
    changes: dict[str, Any] = {}
    if fees.maker is not None and fees.maker != profile.rules.maker_fee:
        changes["maker_fee"] = fees.maker
    if fees.taker is not None and fees.taker != profile.rules.taker_fee:
        changes["taker_fee"] = fees.taker
    return replace(profile, rules=replace(profile.rules, **changes)) if changes else profile


def order_fee_rates(profile: Profile, fees: FeeRates | None = None) -> tuple[float, float]:
    """(rate of the opening order, rate of the closing order): maker or taker as ``fees`` says
    (default: both taker, market orders), at the profile's rates or the account's own.

    >>> from core.profiles import Rules
    >>> p = Profile(id="x", name="x", as_of="2025-01-01", source="s",
    ...             rules=Rules(maker_fee=0.0002, taker_fee=0.0005), contracts={})
    >>> order_fee_rates(p), order_fee_rates(p, FeeRates(open=Liquidity.MAKER))
    ((0.0005, 0.0005), (0.0002, 0.0005))
    """
    fees = fees or FeeRates()
    rules = with_fee_rates(profile, fees).rules

    def rate(liquidity: Liquidity) -> float:
        return rules.maker_fee if liquidity is Liquidity.MAKER else rules.taker_fee

    return rate(fees.open), rate(fees.close)
