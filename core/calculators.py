"""The trader's calculators, checked: what exchange calculators and position sizers offer.

The arithmetic lives in :mod:`core.whatif` (``pnl_and_roe_at_exit``, ``target_price_for_roe``,
``max_open_size``, ``size_from_risk``) and, net of fees, :mod:`core.fees` (``net_pnl``,
``exit_for_net_roe``, ``size_for_net_risk``), which broadcast and answer NaN where there is no
answer. Each calculator gives the number before fees and after both fees (the rates of the opening
and the closing order, :func:`core.fees.order_fee_rates`).
A calculator a person types into needs the other behaviour: refuse the input that has no answer
with :class:`~core.errors.InvalidInputError` naming the field and the allowed range. This module
does that checking, then calls :mod:`core.whatif`, and adds the one calculator it lacks,
:func:`average_entry`.

Field names are the ones the GUI's calculator panel marks: ``qty``, ``entry``, ``exit_price``,
``leverage``, ``roe``, ``balance``, ``price``, ``risk``, ``stop``, ``fills[i].price``,
``fills[i].qty``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core import fees, fmt, validate, whatif
from core.contracts import frame_price, linear_frame
from core.errors import InvalidInputError
from core.margin import average_entry_price, quote_value
from core.model import Side
from core.profiles import Contract, Profile


def number(field: str, value: object, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """What a person typed, as a finite float in the range (:func:`core.validate.number` with text).

    >>> number("qty", "5"), number("entry", "68,000")
    (5.0, 68000.0)
    """
    return validate.number(field, value, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, text=True,
                           thousands=True)


def _side(side: Side | str) -> Side:
    try:
        return side if isinstance(side, Side) else Side(str(side).strip().lower())
    except ValueError:
        raise InvalidInputError("side", f"expected 'long' or 'short', got {side!r}") from None


@dataclass(frozen=True, slots=True)
class PnlRoe:
    pnl: float
    roe: float  # a fraction of the opening margin
    margin: float
    net_pnl: float = math.nan  # after the fee to open at the entry and the fee to close at the exit
    net_roe: float = math.nan
    fees: float = 0.0  # the two fees


def _frame(contract: Contract | None, sign: float, qty: float, *prices: float) -> tuple[float, float, list[float]]:
    """``(side, qty, prices)`` in the contract's linear frame (:mod:`core.contracts`; None: linear)."""
    if contract is None or not contract.is_inverse:
        return sign, qty, list(prices)
    s, q, _ = linear_frame(contract.type, contract.size, sign, qty, 1.0)
    return s, q, [float(frame_price(contract.type, contract.size, p)) for p in prices]


def pnl_and_roe(*, side: Side | str, qty: object, entry: object, exit_price: object, leverage: object,
                max_leverage: float = 1000.0, open_rate: float = 0.0, close_rate: float = 0.0,
                contract: Contract | None = None) -> PnlRoe:
    """PnL and ROE at an exit price, before fees (:func:`core.whatif.pnl_and_roe_at_exit`) and
    after both (:func:`core.fees.net_pnl`, ``open_rate`` at the entry, ``close_rate`` at the exit).

    ``PnL = s * q * (exit - EP)``; ``ROE = PnL / (q * EP / L)``; net: less both fees. On an inverse
    ``contract`` (qty in contracts) all of it in its linear frame: amounts in the coin (docs/domain.md §7).

    Examples
    --------
    5 BTC long at 68,000, 10x, exit 71,400: PnL 5 x 3,400 = 17,000 on a margin of 34,000: ROE 50 %;
    with 0.05 % each way the fees are 170 + 178.50 and the net ROE 48.98 %.

    >>> pnl_and_roe(side="long", qty=5, entry=68_000, exit_price=71_400, leverage=10, open_rate=0.0005,
    ...             close_rate=0.0005)
    PnlRoe(pnl=17000.0, roe=0.5, margin=34000.0, net_pnl=16651.5, net_roe=0.48975, fees=348.5)
    """
    s = _side(side)
    q = number("qty", qty, lo=0, lo_open=True)
    ep = number("entry", entry, lo=0, lo_open=True)
    ex = number("exit_price", exit_price, lo=0, lo_open=True)
    lev = number("leverage", leverage, lo=1, hi=max_leverage)
    fs, fq, (fe, fx) = _frame(contract, s.sign, q, ep, ex)
    pnl, roe = whatif.pnl_and_roe_at_exit(side=fs, qty=fq, entry=fe, exit_price=fx, leverage=lev)
    margin = fq * fe / lev
    net = float(fees.net_pnl(side=fs, qty=fq, entry=fe, exit_price=fx, open_rate=open_rate, close_rate=close_rate))
    return PnlRoe(pnl=float(pnl), roe=float(roe), margin=margin, net_pnl=net, net_roe=net / margin,
                  fees=float(pnl) - net)


def target_price(*, side: Side | str, entry: object, leverage: object, roe_pct: object,
                 max_leverage: float = 1000.0, contract: Contract | None = None) -> float:
    """Exit price for a wanted ROE (in percent), before fees: :func:`core.whatif.target_price_for_roe`.

    ``P = EP * (1 + s * roe / L)``; a positive price needs ``roe > -L`` for a long (a loss of
    more than L x 100 % of the margin would need a price below zero) and ``roe < L`` for a short.
    On an inverse ``contract`` the rule holds in its frame (price S/P, the other side): a long can
    lose any multiple of its margin but make less than L x 100 % (the price would have to be
    infinite), a short the reverse.

    >>> target_price(side="long", entry=68_000, leverage=10, roe_pct=50)    # 68,000 x 1.05
    71400.0
    >>> target_price(side="short", entry=68_000, leverage=10, roe_pct=1_000)
    Traceback (most recent call last):
    ...
    core.errors.InvalidInputError: roe: a short at 10x cannot make 1,000 % (the price would reach zero); allowed below 1,000 %
    """
    s = _side(side)
    ep = number("entry", entry, lo=0, lo_open=True)
    lev = number("leverage", leverage, lo=1, hi=max_leverage)
    r_pct = number("roe", roe_pct)
    bound = lev * 100.0
    if contract is not None and contract.is_inverse:
        fs, _, (fe,) = _frame(contract, s.sign, 1.0, ep)
        if fs * r_pct <= -bound:  # the frame's price S/P would reach zero: P infinite
            raise InvalidInputError("roe", f"a {s.value} at {lev:g}x cannot {'make' if s is Side.LONG else 'lose'} "
                                           f"{fmt.num(abs(r_pct))} % on an inverse contract (the price would have "
                                           f"to be infinite); allowed {'below ' if s is Side.LONG else 'above -'}"
                                           f"{fmt.num(bound)} %")
        x = float(whatif.target_price_for_roe(side=fs, entry=fe, leverage=lev, roe=r_pct / 100.0))
        return float(frame_price(contract.type, contract.size, x))
    if s is Side.LONG and r_pct <= -bound:
        raise InvalidInputError("roe", f"a long at {lev:g}x cannot lose {fmt.num(-r_pct)} % (the price would "
                                       f"reach zero); allowed above -{fmt.num(bound)} %")
    if s is Side.SHORT and r_pct >= bound:
        raise InvalidInputError("roe", f"a short at {lev:g}x cannot make {fmt.num(r_pct)} % (the price would "
                                       f"reach zero); allowed below {fmt.num(bound)} %")
    return float(whatif.target_price_for_roe(side=s.sign, entry=ep, leverage=lev, roe=r_pct / 100.0))


def target_price_net(*, side: Side | str, entry: object, leverage: object, roe_pct: object, open_rate: float,
                     close_rate: float, max_leverage: float = 1000.0, contract: Contract | None = None) -> float:
    """Exit price for a wanted ROE (in percent) after both fees: :func:`core.fees.exit_for_net_roe`.

    The margin is the opening margin ``q * EP / L`` (the size cancels out):
    ``P = EP * (roe / L + s + f_open) / (s - f_close)``. On an inverse ``contract`` the same rule is
    solved in its linear frame (price ``x = S/P``, the other side, the margin and both fees in the
    coin: docs/domain.md §7) and the frame's price mapped back, ``P = S/x``; a long then needs
    ``P = EP * (1 + f_close) / (1 - f_open - roe / L)``. Refused like :func:`target_price`, and where
    the fees leave no positive price.

    Examples
    --------
    Linear, 5 BTC long at 68,000, 10x, 50 % net with 0.05 % each way:

    >>> round(target_price_net(side="long", entry=68_000, leverage=10, roe_pct=50, open_rate=0.0005,
    ...                        close_rate=0.0005), 2)   # 68,000 x 1.0505 / 0.9995
    71469.73

    Inverse, Binance COIN-M BTCUSD_PERP (100 USD a contract) long at 60,000, 5x, 50 % net with
    0.05 % each way. In the frame the long is a short at ``x_e = 100/60,000`` BTC a contract with a
    margin of ``x_e/5``; its net PnL ``(x_e - x) - 0.0005 x_e - 0.0005 x = 0.5 x_e/5`` gives
    ``x = x_e x (1 - 0.0005 - 0.1) / 1.0005``, so ``P = 100/x = 60,000 x 1.0005 / 0.8995 = 66,737.08``
    (before fees 60,000 / 0.9 = 66,666.67):

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> coinm = Contract("BTCUSD_PERP", TierTable.single(mmr=0.004, max_leverage=125), quote="USD",
    ...                  type=ContractType.INVERSE, size=100, settle="BTC")
    >>> round(target_price_net(side="long", entry=60_000, leverage=5, roe_pct=50, open_rate=0.0005,
    ...                        close_rate=0.0005, contract=coinm), 2)
    66737.08
    """
    gross = target_price(side=side, entry=entry, leverage=leverage, roe_pct=roe_pct, max_leverage=max_leverage,
                         contract=contract)
    s = _side(side)
    ep = number("entry", entry, lo=0, lo_open=True)
    lev = number("leverage", leverage, lo=1, hi=max_leverage)
    r = number("roe", roe_pct) / 100.0
    fs, _, (fe,) = _frame(contract, s.sign, 1.0, ep)
    x = float(fees.exit_for_net_roe(side=fs, qty=1.0, entry=fe, margin=fe / lev, roe=r, open_rate=open_rate,
                                    close_rate=close_rate))
    if not math.isfinite(x):
        raise InvalidInputError("roe", f"after fees no positive exit price gives {fmt.num(r * 100)} % "
                                       f"(before fees: {fmt.num(gross)}); choose a smaller ROE")
    return x if contract is None else float(frame_price(contract.type, contract.size, x))


@dataclass(frozen=True, slots=True)
class MaxOpen:
    qty: float
    notional: float
    cost: float  # margin plus the opening fee


def max_open(profile: Profile, symbol: str, *, balance: object, leverage: object, price: object,
             include_fee: bool = True) -> MaxOpen:
    """Largest size a balance opens at a leverage and price: :func:`core.whatif.max_open_size`.

    Uses the contract's tier table (a notional whose tier does not allow the leverage is out of
    reach), its lot size (rounded down), and the profile's taker fee for opening when
    ``include_fee``. Leverage is allowed from 1x to the contract's maximum.

    Examples
    --------
    Binance BTCUSDT: 1,000 USDT at 20x, price 100,000, no fee: 20,000 notional = 0.2 BTC.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> binance = load_profiles([exchanges_dir()]).get("binance")
    >>> max_open(binance, "BTCUSDT", balance=1_000, leverage=20, price=100_000, include_fee=False).qty
    0.2
    """
    contract = profile.contract(symbol)
    b = number("balance", balance, lo=0, lo_open=True)
    lev = number("leverage", leverage, lo=1, hi=contract.max_leverage)
    px = number("price", price, lo=0, lo_open=True)
    fee = profile.rules.taker_fee if include_fee else 0.0
    _, _, (x,) = _frame(contract, 1.0, 1.0, px)  # an inverse contract: contracts at S/P, in the coin
    q = float(whatif.max_open_size(balance=b, leverage=lev, price=x, tiers=contract.tiers, fee_rate=fee,
                                   lot_size=contract.lot_size))
    n = q * x
    return MaxOpen(qty=q, notional=n, cost=n * (1.0 / lev + fee))


@dataclass(frozen=True, slots=True)
class RiskSize:
    qty: float
    side: Side  # a stop below the entry means a long
    notional: float
    loss_at_stop: float
    qty_net: float = math.nan  # the size whose loss at the stop, both fees included, is the risk


def risk_size(*, balance: object, risk_pct: object, entry: object, stop: object, open_rate: float = 0.0,
              close_rate: float = 0.0, contract: Contract | None = None) -> RiskSize:
    """Size that loses ``risk_pct`` % of the balance at the stop: :func:`core.whatif.size_from_risk`,
    and with both fees counted: :func:`core.fees.size_for_net_risk` (``qty_net``).

    ``qty = balance * risk / |entry - stop|``, before fees and slippage;
    ``qty_net = balance * risk / (|entry - stop| + f_open * entry + f_close * stop)``. On an inverse
    ``contract`` in its frame: contracts ``balance * risk / (S * |1/entry - 1/stop|)`` (and the fees
    on ``S/entry``, ``S/stop``), the balance in the coin.

    >>> risk_size(balance=10_000, risk_pct=1, entry=68_000, stop=66_000)   # 100 / 2,000
    RiskSize(qty=0.05, side=<Side.LONG: 'long'>, notional=3400.0, loss_at_stop=100.0, qty_net=0.05)
    """
    b = number("balance", balance, lo=0, lo_open=True)
    r = number("risk", risk_pct, lo=0, hi=100, lo_open=True)
    ep = number("entry", entry, lo=0, lo_open=True)
    st = number("stop", stop, lo=0, lo_open=True)
    if st == ep:
        raise InvalidInputError("stop", f"equals the entry {fmt.num(ep)}; allowed any other price > 0 "
                                        "(below the entry for a long, above for a short)")
    _, _, (fe, fs) = _frame(contract, 1.0, 1.0, ep, st)
    q = float(whatif.size_from_risk(balance=b, risk=r / 100.0, entry=fe, stop=fs))
    q_net = float(fees.size_for_net_risk(balance=b, risk=r / 100.0, entry=fe, stop=fs, open_rate=open_rate,
                                         close_rate=close_rate))
    return RiskSize(qty=q, side=Side.LONG if st < ep else Side.SHORT, notional=q * fe,
                    loss_at_stop=q * abs(fe - fs), qty_net=q_net)


@dataclass(frozen=True, slots=True)
class AverageEntry:
    price: float
    qty: float
    notional: float


def average_entry(prices: Sequence[object], qtys: Sequence[object], *, contract: Contract | None = None) -> AverageEntry:
    """Average entry over several fills: ``sum(p_i * q_i) / sum(q_i)``
    (:func:`core.margin.average_entry_price`; on an inverse ``contract``, quantities in contracts, the
    harmonic mean ``sum(C_i) / sum(C_i / p_i)``, and ``notional`` is the quote value ``sum(C_i) x size``).

    Parameters
    ----------
    prices, qtys : one price (> 0) and one quantity (> 0) per fill, same length, at least one.
    contract : the contract the fills are on (None: linear).

    Raises
    ------
    InvalidInputError
        ``fills[i].price`` / ``fills[i].qty`` for a bad value, ``fills`` for none or a length mismatch.

    Examples
    --------
    5 BTC at 68,000 then 5 at 70,000: (340,000 + 350,000) / 10 = 69,000 (the same as
    :func:`core.whatif.add_to_position`'s new entry).

    >>> average_entry([68_000, 70_000], [5, 5])
    AverageEntry(price=69000.0, qty=10.0, notional=690000.0)
    """
    if len(prices) != len(qtys):
        raise InvalidInputError("fills", f"{len(prices)} prices but {len(qtys)} quantities; give one of each per fill")
    if not prices:
        raise InvalidInputError("fills", "enter at least one fill (a price and a quantity)")
    ps = [number(f"fills[{i}].price", p, lo=0, lo_open=True) for i, p in enumerate(prices)]
    qs = [number(f"fills[{i}].qty", q, lo=0, lo_open=True) for i, q in enumerate(qtys)]
    notional = math.fsum(float(quote_value(contract, q, p)) if contract is not None else p * q
                         for p, q in zip(ps, qs, strict=True))
    return AverageEntry(price=average_entry_price(contract, qs, ps), qty=math.fsum(qs), notional=notional)
