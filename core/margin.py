"""Broadcasting margin arithmetic: notional, uPnL, initial and maintenance margin, margin ratio.

Every function accepts scalars or numpy arrays (broadcast together) and returns a float for scalar
input and an array otherwise, in the manner of numpy-financial. ``side`` is +1 for long and -1 for
short. The formulas are written for a linear contract, amounts in its quote currency (USDT, USDC);
an inverse contract goes through them in its linear frame (:mod:`core.contracts`, docs/domain.md
§7), which the contract-aware functions at the end of this module (:func:`contract_pnl`,
:func:`settle_notional`, :func:`average_entry_price`, ...) do for a :class:`~core.profiles.Contract`.
"""
from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.contracts import ContractType, frame_price, linear_frame
from core.errors import InvalidInputError
from core.model import Position
from core.profiles import Contract, MMBasis, Profile
from core.tiers import TierTable

ArrayLike = npt.ArrayLike


def _out(x: Any) -> Any:
    """A float for 0-d results, the array otherwise."""
    a = np.asarray(x)
    return float(a) if a.ndim == 0 else a


_SIDE_WORDS: Final = {"long": 1.0, "buy": 1.0, "short": -1.0, "sell": -1.0}


def side_sign(side: Any) -> Any:
    """+1/-1 from a Side, a string "long"/"short" ("buy"/"sell"), a number, or an array of them.

    An unknown word is refused (a typo must not turn a long into a short); numbers give their sign.
    """
    if isinstance(side, str):
        try:
            return _SIDE_WORDS[side.strip().lower()]
        except KeyError:
            raise InvalidInputError("side", f"expected 'long' or 'short', got {side!r}") from None
    if hasattr(side, "sign") and not isinstance(side, np.ndarray):
        return float(side.sign)
    return np.sign(np.asarray(side, dtype=float))


def notional(qty: ArrayLike, price: ArrayLike) -> Any:
    """Position value ``qty * price``.

    >>> notional(5, 68_000)
    340000.0
    """
    return _out(np.multiply(qty, price, dtype=float))


def unrealized_pnl(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, mark: ArrayLike) -> Any:
    """``s * q * (mark - entry)``.

    >>> unrealized_pnl(side=1, qty=5, entry=68_000, mark=61_880)
    -30600.0
    """
    s = side_sign(side)
    return _out(s * np.asarray(qty, dtype=float) * (np.asarray(mark, dtype=float) - np.asarray(entry, dtype=float)))


def initial_margin(*, qty: ArrayLike, entry: ArrayLike, leverage: ArrayLike) -> Any:
    """``q * EP / L``: the margin to open the position, before fees.

    >>> initial_margin(qty=5, entry=68_000, leverage=10)
    34000.0
    """
    return _out(np.asarray(qty, dtype=float) * np.asarray(entry, dtype=float) / np.asarray(leverage, dtype=float))


def maintenance_margin(*, qty: ArrayLike, price: ArrayLike, tiers: TierTable,
                       tier_notional: ArrayLike | None = None) -> Any:
    """``max(MMR_k * q * price - cum_k, 0)``: the one formula for maintenance margin.

    The tier ``k`` is chosen at ``tier_notional`` (default ``q * price``). Under the "entry" basis,
    pass the entry price as ``price``; under the "mark" basis, the mark
    (:func:`position_maintenance` makes that choice from a profile). A maintenance margin is never
    negative: where a tier's amount exceeds ``MMR * N`` (only outside the tier's own range, or in a
    custom one-tier contract) it is zero, and :func:`core.liquidation.liquidation_price` follows
    the same floor (the liquidation price is then the bankruptcy price).

    Source: docs/domain.md §2.2 (Binance, "Leverage and Margin of USDⓈ-M Futures",
    https://www.binance.com/en/support/faq/360033162192; the same form for Bybit's and Hyperliquid's
    maintenance deduction).

    >>> from core.tiers import TierTable
    >>> classic = TierTable.from_rows(floor=[0, 50e3, 250e3, 1e6], cap=[50e3, 250e3, 1e6, 5e6],
    ...     max_leverage=[125, 100, 50, 20], mmr=[0.004, 0.005, 0.01, 0.025], cum=[0, 0, 0, 0])
    >>> maintenance_margin(qty=5, price=68_000, tiers=classic)   # the source FAQ: 1 % of 340,000
    3400.0
    """
    q = np.asarray(qty, dtype=float)
    p = np.asarray(price, dtype=float)
    n = q * p
    k = tiers.index(n if tier_notional is None else tier_notional)
    return _out(np.maximum(tiers.mmr[k] * n - tiers.cum[k], 0.0))


def position_maintenance(profile: Profile, symbol: str, *, qty: ArrayLike, entry: ArrayLike,
                         mark: ArrayLike) -> tuple[Any, Any]:
    """Maintenance margin of a position under ``profile``'s rules (before any fee to close), and its tier.

    The profile's ``mm_basis`` says which price the notional is measured at: the entry (fixed while
    the position is unchanged) or the mark (moving with the price); ``taker_in_mmr`` raises every
    rate by the taker fee (:meth:`core.profiles.Profile.effective_tiers`). docs/domain.md §1.

    Returns
    -------
    (mm, tier index), each a float/int for scalar input, arrays otherwise.

    Examples
    --------
    The source FAQ under ``classic`` (entry basis): 1 % of 5 x 68,000 whatever the mark.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> classic = load_profile(exchanges_dir() / "classic.toml")
    >>> position_maintenance(classic, "BTCUSDT", qty=5, entry=68_000, mark=61_000)
    (3400.0, 2)
    """
    tiers = profile.effective_tiers(symbol)
    price = entry if profile.rules.mm_basis is MMBasis.ENTRY else mark
    q = np.asarray(qty, dtype=float)
    p = np.broadcast_to(np.asarray(price, dtype=float), np.broadcast_shapes(np.shape(q), np.shape(mark)))
    mm = maintenance_margin(qty=q, price=p, tiers=tiers)
    k = tiers.index(q * p)
    return (float(mm), int(k)) if np.ndim(mm) == 0 else (mm, k)


def margin_ratio(*, maintenance: ArrayLike, equity: ArrayLike) -> Any:
    """``MM / equity``: 1.0 (100 %) is the liquidation line; +inf when equity is zero or less.

    >>> margin_ratio(maintenance=3_400, equity=34_000)
    0.1
    """
    mm = np.asarray(maintenance, dtype=float)
    eq = np.asarray(equity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a denormal equity: +inf
        r = np.where(eq > 0, mm / np.where(eq > 0, eq, 1.0), np.inf)
    return _out(r)


def pnl_at_exit(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike) -> Any:
    """Realised PnL closing at ``exit_price`` (before fees); the same formula as uPnL."""
    return unrealized_pnl(side=side, qty=qty, entry=entry, mark=exit_price)


def roe(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike, margin: ArrayLike) -> Any:
    """Return on equity: PnL over the margin put up.

    >>> roe(side=1, qty=5, entry=68_000, exit_price=71_400, margin=34_000)   # +5 % move at 10x
    0.5
    """
    pnl = np.asarray(pnl_at_exit(side=side, qty=qty, entry=entry, exit_price=exit_price))
    return _out(pnl / np.asarray(margin, dtype=float))


# ---------------------------------------------------------------------------------------------
# Contract-aware: the rules above through the contract's linear frame (core.contracts)


def contract_frame(contract: Contract, *, side: Any, qty: ArrayLike, price: ArrayLike) -> tuple[Any, Any, Any]:
    """``(side, qty, price)`` of a position on ``contract`` in its linear frame (+1/-1 sides).

    :func:`core.contracts.linear_frame` with the contract's type and size; ``side`` may be a word,
    a ``Side``, a number or an array (:func:`side_sign`).
    """
    return linear_frame(contract.type, contract.size, side_sign(side), _number(qty), _number(price))


def _number(x: Any) -> Any:
    """A Python number as a float, anything else as a float array."""
    return float(x) if isinstance(x, float | int) else np.asarray(x, dtype=float)


def contract_pnl(contract: Contract, *, side: Any, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike) -> Any:
    """PnL in the settle asset of closing at ``exit_price`` (before fees); broadcasts over every argument.

    Linear: ``s*q*(P - EP)``; inverse: ``s*C*S*(1/EP - 1/P)`` -- :func:`unrealized_pnl` in the linear
    frame (docs/domain.md §7).

    Examples
    --------
    Bybit's inverse P&L article: long 1,000 BTCUSD (1 USD) at 5,000, last price 5,500:
    1,000 x (1/5,000 - 1/5,500) = 0.0181818 BTC.

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> btcusd = Contract("BTCUSD", TierTable.single(mmr=0.005, max_leverage=100), quote="USD",
    ...                   type=ContractType.INVERSE, size=1.0, settle="BTC")
    >>> round(contract_pnl(btcusd, side=1, qty=1_000, entry=5_000, exit_price=5_500), 7)
    0.0181818
    """
    s, q, x_e = contract_frame(contract, side=side, qty=qty, price=entry)
    return unrealized_pnl(side=s, qty=q, entry=x_e, mark=frame_price(contract.type, contract.size, _number(exit_price)))


def position_pnl_at_exit(profile: Profile, position: Position, exit_price: ArrayLike) -> Any:
    """PnL of ``position`` closed at ``exit_price`` (a price or an array of them), in its settle
    asset, before fees (:func:`contract_pnl` on the position's contract).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> classic = load_profile(exchanges_dir() / "classic.toml")
    >>> position_pnl_at_exit(classic, Position("BTCUSDT", "long", 5, 68_000, 10), [61_880, 71_400]).tolist()
    [-30600.0, 17000.0]
    """
    return contract_pnl(profile.contract(position.symbol), side=position.sign, qty=position.qty_base,
                        entry=position.entry_price, exit_price=exit_price)


def settle_notional(contract: Contract, qty: ArrayLike, price: ArrayLike) -> Any:
    """The position's value in the settle asset, what tiers are chosen by: linear ``q*P``, inverse
    ``C*S/P`` (Binance COIN-M: 100 contracts of 100 USD at 25,000 are 0.4 BTC).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> settle_notional(load_profile(exchanges_dir() / "binance-coinm.toml").contract("BTCUSD_PERP"), 100, 25_000)
    0.4
    """
    return notional(qty, frame_price(contract.type, contract.size, _number(price)))


def quote_value(contract: Contract, qty: ArrayLike, price: ArrayLike) -> Any:
    """The position's value in the quote currency (USD, USDT): linear ``q*P``; inverse ``C*S``, which
    no price changes (``price`` is then ignored).

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> btcusd_perp = Contract("BTCUSD_PERP", TierTable.single(mmr=0.004, max_leverage=125), quote="USD",
    ...                        type=ContractType.INVERSE, size=100.0, settle="BTC")
    >>> quote_value(btcusd_perp, 100, 25_000)
    10000.0
    """
    if contract.type is ContractType.LINEAR:
        return notional(qty, price)
    return _out(np.multiply(qty, contract.size, dtype=float))


def qty_from_quote_value(contract: Contract, value: ArrayLike, price: ArrayLike) -> Any:
    """The size (base units, or contracts for an inverse contract) worth ``value`` of the quote
    currency at ``price``: the inverse of :func:`quote_value` (linear ``value/P``; inverse ``value/S``)."""
    v = np.asarray(value, dtype=float)
    if contract.type is ContractType.LINEAR:
        with np.errstate(divide="ignore", invalid="ignore"):
            return _out(v / np.asarray(price, dtype=float))
    return _out(v / contract.size)


def average_entry_price(contract: Contract | None, qtys: ArrayLike, prices: ArrayLike) -> float:
    """The average entry of fills ``(qty_i, price_i)``: the quantity-weighted mean of the prices in
    the linear frame, mapped back.

    Linear: ``sum(q_i*P_i) / sum(q_i)``. Inverse: ``sum(C_i) / sum(C_i/P_i)``, the harmonic mean
    (weights C_i in the frame, prices S/P_i). ``contract`` None: linear.

    Examples
    --------
    Bybit's inverse examples: 50 contracts at 10,000 and 50 at 15,000 -> 12,000; 1,000 at 5,000 and
    2,000 at 6,000 -> 5,625.

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> btcusd = Contract("BTCUSD", TierTable.single(mmr=0.005, max_leverage=100), quote="USD",
    ...                   type=ContractType.INVERSE, size=1.0, settle="BTC")
    >>> round(average_entry_price(btcusd, [50, 50], [10_000, 15_000]), 6), round(average_entry_price(btcusd,
    ...     [1_000, 2_000], [5_000, 6_000]), 6)
    (12000.0, 5625.0)
    >>> average_entry_price(None, [5, 5], [68_000, 70_000])
    69000.0
    """
    kind = ContractType.LINEAR if contract is None else contract.type
    size = 1.0 if contract is None else contract.size
    q = np.asarray(qtys, dtype=float).ravel().tolist()
    x = np.asarray(frame_price(kind, size, np.asarray(prices, dtype=float)), dtype=float).ravel().tolist()
    return float(frame_price(kind, size, math.fsum(a * b for a, b in zip(q, x, strict=True)) / math.fsum(q)))
