"""What-if: change one position of an account and see every number move.

Each action takes a frozen :class:`~core.model.Account` and the index of one of its positions, and
returns a frozen :class:`WhatIf`: the quote before, the quote after (``None`` when the position is
closed completely), the new account, and the change of every headline number. Nothing is mutated;
bad input raises :class:`~core.errors.InvalidInputError` naming the field and the allowed range, and
the caller's state is untouched.

Where the money comes from
--------------------------
``Account.wallet_usd`` is the account's balance outside the isolated margins (docs/domain.md notation WB
for cross positions). Actions that need money (add margin, lower leverage, add to a position) check
it against a *free balance*:

* ``free_balance=None`` (default): the account's own free balance, :func:`free_balance`, is the
  source, and ``wallet_usd`` is debited or credited by ``balance_change``;
* ``free_balance=x``: ``x`` is a balance the caller keeps outside the account (for example the
  "available" figure an exchange shows). The check uses ``x``; isolated margin movements leave
  ``wallet_usd`` alone and ``balance_change`` says what the caller should move.

Realised PnL of a **cross** position always lands in ``wallet_usd``: the wallet is its collateral.

The quick calculators at the end (:func:`max_open_size`, :func:`target_price_for_roe`,
:func:`pnl_and_roe_at_exit`, :func:`size_from_risk`) are plain broadcasting functions.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core import fmt
from core.errors import InvalidInputError
from core.fees import net_pnl, order_fee_rates, with_fee_rates
from core.funding import (
    FundingPath,
    available_balance,
    cross_commitment,
    default_funding_rate,
    funding_path,
    funding_payment,
    position_value,
)
from core.liquidation import bankruptcy_price
from core.margin import _out, average_entry_price, position_pnl_at_exit, settle_notional, side_sign
from core.model import Account, MarginMode, Position
from core.profiles import Profile, round_to_lot
from core.quote import (
    PositionQuote,
    account_settle_asset,
    entry_notional,
    opening_requirement,
    position_leg,
    position_margin,
    quote_account,
    required_initial_margin,
    validate_position,
)
from core.simspec import FUNDING_INTERVAL_H, MAX_DURATION_S, MAX_FUNDING_RATE
from core.tiers import TierTable
from core.validate import number

ArrayLike = npt.ArrayLike

#: The numbers whose change every :class:`WhatIf` reports (``after - before``).
DELTA_KEYS: Final = (
    "qty", "entry", "leverage", "notional", "margin", "initial_margin", "maintenance_margin",
    "equity", "unrealized_pnl", "margin_ratio", "liquidation_price", "bankruptcy_price",
    "distance_to_liquidation", "net_unrealized_pnl", "break_even_price",
)
_PRICE_KEYS: Final = frozenset({"entry", "liquidation_price", "bankruptcy_price", "distance_to_liquidation",
                                "margin_ratio", "leverage", "break_even_price"})


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The outcome of one what-if action.

    Attributes
    ----------
    action : what was done, e.g. ``"add_margin"``.
    index : the position's index in ``account.positions`` (and in ``account_before.positions``;
        a fully closed position is removed, so the index no longer exists in ``account``).
    before, after : quotes of the position before and after; ``after`` is None when it was closed.
    account_before, account : the whole account before and after (frozen).
    position : the new position, or None when it was closed.
    deltas : ``after - before`` for every key of :data:`DELTA_KEYS`; NaN where a side has no
        value (no liquidation price). When the position is closed, amounts go to zero and prices
        to NaN.
    realized_pnl : profit or loss realised by the action (partial close), before fees.
    balance_change : money into (+) or out of (-) the free balance.
    others : the account's other positions whose liquidation price the action moves (cross
        positions share the wallet): ``(index, LP before, LP after)``, index into ``account_before``.
    realized_net_pnl : ``realized_pnl`` after the fee to close at the exit and the closed share of
        the fee to open and of the funding paid (docs/domain.md §9.5); equal to it otherwise.
    funding : what holding at a funding rate does (:func:`hold_with_funding`); None for the others.
    """

    action: str
    index: int
    before: PositionQuote
    after: PositionQuote | None
    account_before: Account
    account: Account
    position: Position | None
    deltas: Mapping[str, float] = field(default_factory=dict)
    realized_pnl: float = 0.0
    balance_change: float = 0.0
    others: tuple[tuple[int, float, float], ...] = ()
    realized_net_pnl: float = 0.0
    funding: FundingOutlook | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN as None."""
        def n(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "action": self.action, "index": self.index, "before": self.before.as_dict(),
            "after": None if self.after is None else self.after.as_dict(),
            "deltas": {k: n(v) for k, v in self.deltas.items()},
            "realized_pnl": self.realized_pnl, "realized_net_pnl": self.realized_net_pnl,
            "balance_change": self.balance_change,
            "others": [{"index": i, "liquidation_price_before": n(b), "liquidation_price_after": n(a)}
                       for i, b, a in self.others],
            "funding": None if self.funding is None else self.funding.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class FundingOutlook:
    """Holding a position through funding payments at a constant mark (:func:`hold_with_funding`).

    Attributes
    ----------
    rate, interval_h : the rate per interval and the hours between payments.
    days, intervals : the holding time asked for and the payments it spans.
    paid : what the position paid in those payments (negative: received).
    paid_symbol : what every position on its symbol paid together (a hedge's legs net out).
    per_interval : the position's payment per interval at the mark.
    liquidation_intervals : the first payment after which funding alone liquidates the position's
        scope at the current mark; None when that does not happen within ten years.
    """

    rate: float
    interval_h: float
    days: float
    intervals: int
    paid: float
    paid_symbol: float
    per_interval: float
    liquidation_intervals: int | None

    @property
    def liquidation_days(self) -> float:
        """Days from now to the payment that liquidates (NaN: none within ten years)."""
        if self.liquidation_intervals is None:
            return math.nan
        return self.liquidation_intervals * self.interval_h / 24.0

    @property
    def liquidated_within(self) -> bool:
        """Funding alone liquidates the position before the holding time is over."""
        return self.liquidation_intervals is not None and self.liquidation_intervals <= self.intervals

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "interval_h": self.interval_h, "days": self.days, "intervals": self.intervals,
                "paid": self.paid, "paid_symbol": self.paid_symbol, "per_interval": self.per_interval,
                "liquidation_intervals": self.liquidation_intervals,
                "liquidation_days": None if self.liquidation_intervals is None else self.liquidation_days}


# ---------------------------------------------------------------------------------------------
# Helpers


def _amt(profile: Profile, account: Account, x: float) -> str:
    """An amount of ``account``'s settle asset in a message (:func:`core.fmt.amount_text`: 0.25000000 BTC)."""
    return fmt.amount_text(x, account_settle_asset(profile, account))


def _position(account: Account, index: int) -> Position:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(account.positions):
        hi = len(account.positions) - 1
        allowed = f"0-{hi}" if hi >= 0 else "none: the account holds no position"
        raise InvalidInputError("index", f"no position {index!r}; allowed {allowed}")
    return account.positions[index]


def _replace(account: Account, index: int, new: Position | None, wallet: float) -> Account:
    ps = list(account.positions)
    if new is None:
        del ps[index]
    else:
        ps[index] = new
    return account.with_(positions=tuple(ps), wallet_usd=wallet)


def _values(q: PositionQuote | None) -> dict[str, float]:
    if q is None:
        return {k: (math.nan if k in _PRICE_KEYS else 0.0) for k in DELTA_KEYS}
    p = q.position
    return {
        "qty": p.qty_base, "entry": p.entry_price, "leverage": p.leverage, "notional": q.notional,
        "margin": q.margin, "initial_margin": q.initial_margin,
        "maintenance_margin": q.maintenance_margin, "equity": q.equity,
        "unrealized_pnl": q.unrealized_pnl, "margin_ratio": q.margin_ratio,
        "liquidation_price": q.liquidation_price, "bankruptcy_price": q.bankruptcy_price,
        "distance_to_liquidation": q.distance_to_liquidation,
        "net_unrealized_pnl": q.net_unrealized_pnl, "break_even_price": q.break_even_price,
    }


def _deltas(before: PositionQuote, after: PositionQuote | None) -> dict[str, float]:
    b, a = _values(before), _values(after)
    out = {}
    for k in DELTA_KEYS:
        d = a[k] - b[k] if math.isfinite(a[k]) and math.isfinite(b[k]) else math.nan
        out[k] = d
    return out


def _result(action: str, profile: Profile, account: Account, index: int, new: Position | None,
            wallet: float, *, realized_pnl: float = 0.0, balance_change: float = 0.0,
            realized_net_pnl: float | None = None, after_account: Account | None = None,
            funding: FundingOutlook | None = None) -> WhatIf:
    all_before = quote_account(profile, account).positions
    before = all_before[index]
    if wallet < 0 and after_account is None:
        # Only a cross realised loss can do this: such an account would have been liquidated.
        raise InvalidInputError(
            "exit_price", f"the realised loss {_amt(profile, account, -realized_pnl)} exceeds the wallet "
            f"{_amt(profile, account, account.wallet_usd)}; the account would have been liquidated first")
    acct = _replace(account, index, new, wallet) if after_account is None else after_account
    all_after = quote_account(profile, acct).positions if acct.positions else ()
    after = None if new is None else all_after[index]
    others = []
    for j, qb in enumerate(all_before):
        if j == index:
            continue
        lp_b, lp_a = qb.liquidation_price, all_after[j if new is not None or j < index else j - 1].liquidation_price
        same = (math.isnan(lp_b) and math.isnan(lp_a)) or abs(lp_a - lp_b) <= 1e-12 * max(abs(lp_b), 1.0)
        if not same:
            others.append((j, lp_b, lp_a))
    return WhatIf(action=action, index=index, before=before, after=after, account_before=account,
                  account=acct, position=new, deltas=_deltas(before, after),
                  realized_pnl=realized_pnl, balance_change=balance_change, others=tuple(others),
                  realized_net_pnl=realized_pnl if realized_net_pnl is None else realized_net_pnl,
                  funding=funding)


def free_balance(profile: Profile, account: Account) -> float:
    """Money the account can put into new margin: ``WB + sum(min(uPnL, 0)) - sum(IM)`` over cross.

    Unrealised profit is not counted (an exchange lets you trade on it only in some modes, and
    never withdraw it); unrealised loss and the cross positions' initial margin are taken off.
    Never below zero.

    Examples
    --------
    An account with 10,000 USDT and only isolated positions has 10,000 free.
    """
    return available_balance(account.wallet_usd, _commitment(profile, account))


def _commitment(profile: Profile, account: Account) -> float:
    """What the cross positions hold of the wallet (:func:`core.funding.cross_commitment`)."""
    cross = [p for p in account.positions if p.mode is MarginMode.CROSS]
    return cross_commitment(initial_margins=[opening_requirement(profile, p) for p in cross],
                            upnls=[float(position_pnl_at_exit(profile, p, account.mark_of(p))) for p in cross])


def _source(profile: Profile, account: Account, free: float | None) -> tuple[float, bool]:
    """(balance to check against, whether the wallet pays)."""
    if free is None:
        return free_balance(profile, account), True
    return number("free_balance", free), False


def _need_isolated(p: Position, action: str) -> None:
    if p.mode is not MarginMode.ISOLATED:
        raise InvalidInputError(
            "mode", f"{action} applies to an isolated position; a cross position is backed by the "
            "wallet (change the wallet instead)")


# ---------------------------------------------------------------------------------------------
# Actions on one position


def add_margin(profile: Profile, account: Account, index: int, amount: float, *,
               free_balance: float | None = None) -> WhatIf:
    """Move ``amount`` from the free balance into an isolated position's margin.

    The liquidation price moves away from the mark: a long's by about ``amount / qty`` down.
    Allowed: ``0 < amount <= free balance``.
    """
    p = _position(account, index)
    _need_isolated(p, "adding margin")
    amt = number("amount", amount, lo=0, lo_open=True)
    avail, wallet_pays = _source(profile, account, free_balance)
    if amt > avail:
        raise InvalidInputError("amount", f"{_amt(profile, account, amt)} is more than the free balance; allowed "
                                          f"up to {_amt(profile, account, avail)}")
    new = p.with_(margin_usd=position_margin(profile, p) + amt)
    wallet = account.wallet_usd - amt if wallet_pays else account.wallet_usd
    return _result("add_margin", profile, account, index, new, wallet, balance_change=-amt)


def change_wallet(profile: Profile, account: Account, index: int, amount: float, *,
                  free_balance: float | None = None) -> WhatIf:
    """Move ``amount`` into the cross wallet (a negative amount takes it out), seen from position ``index``.

    The wallet is every cross position's collateral (docs/domain.md §1.5), so a deposit moves each
    cross liquidation price away from its mark, a withdrawal towards it. A withdrawal is refused
    above the free balance (:func:`free_balance`, or the one given): unrealised profit and the
    cross positions' initial margin stay. The money comes from (or goes to) outside the account.

    Examples
    --------
    Cross 1 BTC long at 20,000, 50x, with a 2,200 wallet on the classic profile (entry basis, tier 1
    at 0.4 %: MM 80): LP = 20,000 - (2,200 - 80) / 1 = 17,880; 500 more in the wallet: 17,380.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> from core.model import Side
    >>> classic = load_profile(exchanges_dir() / "classic.toml")
    >>> acct = Account("classic", wallet_usd=2_200,
    ...                positions=(Position("BTCUSDT", Side.LONG, 1, 20_000, 50, mode=MarginMode.CROSS),))
    >>> w = change_wallet(classic, acct, 0, 500)
    >>> w.before.liquidation_price, w.after.liquidation_price, w.balance_change
    (17880.0, 17380.0, -500.0)
    """
    _position(account, index)
    amt = number("amount", amount)
    if amt < 0:
        avail, _ = _source(profile, account, free_balance)
        if -amt > avail * (1 + 1e-12):
            raise InvalidInputError("amount", f"withdrawing {_amt(profile, account, -amt)} is more than the free balance; "
                                              f"allowed up to {_amt(profile, account, avail)}")
    return _result("change_wallet", profile, account, index, account.positions[index],
                   max(account.wallet_usd + amt, 0.0), balance_change=-amt)


def max_removable_margin(profile: Profile, account: Account, index: int) -> float:
    """How much margin an isolated position can give back.

    ``margin + min(uPnL, 0) - IM at mark``, never below 0, with ``IM at mark = q * mark / L``
    (plus the fee to close under ``close_fee``). This is the rule the large exchanges apply: what
    stays must open the same position at today's price, and an unrealised profit cannot be taken
    out. Removing less than this keeps the position well clear of its maintenance margin (IM > MM
    because L < 1/MMR).

    Examples
    --------
    Source FAQ position, 5 BTC long at 68,000, 10x, margin 40,000, mark 68,000:
    40,000 + 0 - 34,000 = 6,000.
    """
    p = _position(account, index)
    _need_isolated(p, "removing margin")
    mark = account.mark_of(p)
    upnl = float(position_pnl_at_exit(profile, p, mark))
    # the opening requirement at the mark (with the fee to close under close_fee)
    im_mark = float(required_initial_margin(profile, side=p.sign, qty=p.qty_base, entry=mark, leverage=p.leverage,
                                            symbol=p.symbol))
    return max(position_margin(profile, p) + min(upnl, 0.0) - im_mark, 0.0)


def remove_margin(profile: Profile, account: Account, index: int, amount: float, *,
                  free_balance: float | None = None) -> WhatIf:
    """Take ``amount`` out of an isolated position's margin, back to the free balance.

    Allowed: ``0 < amount <=`` :func:`max_removable_margin`. ``free_balance`` only says where the
    money goes (see the module notes); it does not limit a removal.
    """
    p = _position(account, index)
    _need_isolated(p, "removing margin")
    amt = number("amount", amount, lo=0, lo_open=True)
    cap = max_removable_margin(profile, account, index)
    if amt > cap * (1 + 1e-12):
        raise InvalidInputError(
            "amount", f"{_amt(profile, account, amt)} would leave less than the initial margin at the mark "
            f"(margin + min(uPnL, 0) - IM); allowed up to {_amt(profile, account, cap)}")
    _, wallet_pays = _source(profile, account, free_balance)
    new = p.with_(margin_usd=max(position_margin(profile, p) - amt, 0.0))
    if new.margin_usd == 0.0:
        raise InvalidInputError("amount", f"would leave no margin; allowed up to {_amt(profile, account, cap)}")
    wallet = account.wallet_usd + amt if wallet_pays else account.wallet_usd
    return _result("remove_margin", profile, account, index, new, wallet, balance_change=amt)


def change_leverage(profile: Profile, account: Account, index: int, leverage: float, *,
                    free_balance: float | None = None) -> WhatIf:
    """Set a new leverage.

    Refused (``field="leverage"``): above the tier maximum at the position's notional, at or above
    ``1/MMR`` (the position would be liquidatable at once), when the free balance cannot fund the
    extra margin, and when the position would be liquidatable at the current mark afterwards.

    Isolated: the margin becomes ``q * EP / L_new`` (any margin added by hand is folded in, as
    Bybit recomputes the position margin); the difference comes from or goes to the free balance.
    Cross: the wallet does not move; only the initial margin (what the free balance must cover)
    changes, and with it nothing in the liquidation price except the fee-to-close term.

    Examples
    --------
    5 BTC long at 68,000 from 10x to 5x: margin 34,000 -> 68,000, balance change -34,000.
    """
    p = _position(account, index)
    lev = number("leverage", leverage, lo=1)
    new = p.with_(leverage=lev, margin_usd=None) if p.mode is MarginMode.ISOLATED else p.with_(leverage=lev)
    validate_position(profile, new)
    avail, wallet_pays = _source(profile, account, free_balance)
    old_im = position_margin(profile, p) if p.mode is MarginMode.ISOLATED else opening_requirement(profile, p)
    need = opening_requirement(profile, new) - old_im
    if need > avail * (1 + 1e-12):
        lo = entry_notional(profile, p) / (old_im + avail)
        raise InvalidInputError(
            "leverage", f"{lev:g}x needs {_amt(profile, account, need)} more margin than the free balance "
            f"{_amt(profile, account, avail)} holds; allowed from {lo:.4g}x")
    wallet = account.wallet_usd
    if p.mode is MarginMode.ISOLATED and wallet_pays:
        wallet -= need
    res = _result("change_leverage", profile, account, index, new, max(wallet, 0.0),
                  balance_change=-need if p.mode is MarginMode.ISOLATED else 0.0)
    if res.after is not None and res.after.liquidatable_now:
        raise InvalidInputError(
            "leverage", f"at {lev:g}x the position would be liquidated at the current mark "
            f"(equity {_amt(profile, account, res.after.equity)} < maintenance {_amt(profile, account, res.after.maintenance_margin)}); "
            "choose a lower leverage")
    return res


def partial_close(profile: Profile, account: Account, index: int, qty: float, exit_price: float, *,
                  free_balance: float | None = None) -> WhatIf:
    """Close ``qty`` of the position at ``exit_price`` (before fees).

    ``realized PnL = s * qty * (exit - EP)`` (in the settle asset: :func:`core.margin.contract_pnl`,
    ``s * C * S * (1/EP - 1/exit)`` for an inverse contract); ``realized_net_pnl`` also takes off the
    fee to close ``qty`` at the exit and the closed share of the fee to open and of the funding paid
    (:func:`core.fees.net_pnl`; the money moved stays before fees). An isolated position releases its margin in proportion,
    ``margin * qty / q``, so the released margin plus the PnL go to the free balance; the entry price
    and the leverage stay. A cross position's PnL lands in the wallet. ``qty == q`` closes the
    position and removes it from the account (``after`` is None).

    Refused: ``qty`` above the size held; for an isolated position, an exit beyond
    ``EP -/+ margin / q`` (the margin would not cover the loss: the position is liquidated before
    any trade there); for a cross position, a realised loss larger than the wallet.

    Examples
    --------
    Close 2 of 5 BTC long at 70,000 (entry 68,000, margin 34,000): PnL +4,000, released 13,600,
    balance change +17,600; 3 BTC remain with margin 20,400.
    """
    p = _position(account, index)
    dq = number("qty", qty, lo=0, lo_open=True)
    if dq > p.qty_base * (1 + 1e-12):
        raise InvalidInputError("qty", f"{dq:g} is more than the position holds; allowed up to {p.qty_base:g}")
    dq = min(dq, p.qty_base)
    px = number("exit_price", exit_price, lo=0, lo_open=True)
    pnl = float(position_pnl_at_exit(profile, p.with_(qty_base=dq), px))
    remaining = p.qty_base - dq
    closes = remaining <= p.qty_base * 1e-12
    new: Position | None
    if closes:
        new = None
    else:
        new = p.with_(qty_base=remaining,
                      margin_usd=None if p.margin_usd is None else p.margin_usd * remaining / p.qty_base,
                      funding_paid=p.funding_paid * remaining / p.qty_base)
    wallet = account.wallet_usd
    if p.mode is MarginMode.ISOLATED:
        released = position_margin(profile, p) * (1.0 if closes else dq / p.qty_base)
        change = released + pnl
        if change < 0:
            # released + PnL < 0 exactly when the exit is beyond EP -/+ margin/q, where the margin is
            # gone: the position would have been liquidated before a trade there.
            leg = position_leg(profile, p)
            bound = leg.price(float(bankruptcy_price(side=leg.s, qty=leg.q, entry=leg.ep,
                                                     wallet=position_margin(profile, p))))
            side_word = "above" if p.sign > 0 else "below"
            raise InvalidInputError(
                "exit_price", f"{fmt.num(px)} is beyond the bankruptcy price {fmt.num(bound)}, where the "
                f"isolated margin is used up; allowed {side_word} {fmt.num(bound)}")
        _, wallet_pays = _source(profile, account, free_balance)
        if wallet_pays:
            wallet += change
    else:
        change = pnl
        wallet += pnl
    f_open, f_close = order_fee_rates(profile, account.fees)
    closed = position_leg(profile, p.with_(qty_base=dq))
    net = float(net_pnl(side=closed.s, qty=closed.q, entry=closed.ep, exit_price=closed.price(px), open_rate=f_open,
                        close_rate=f_close, funding_paid=p.funding_paid * dq / p.qty_base))
    return _result("partial_close", profile, account, index, new, wallet, realized_pnl=pnl,
                   balance_change=change, realized_net_pnl=net)


def add_to_position(profile: Profile, account: Account, index: int, qty: float, price: float, *,
                    free_balance: float | None = None) -> WhatIf:
    """Buy more of a long (sell more of a short) at ``price``, leverage kept.

    New entry ``(q*EP + dq*P) / (q + dq)`` (inverse: the harmonic mean,
    :func:`core.margin.average_entry_price`); the new margin needed is ``dq * P / L`` (isolated: added
    to the position's margin; cross: taken from the free balance, the wallet does not move). The
    tier is re-chosen at the new notional, and a leverage above the new tier's maximum is refused.

    Examples
    --------
    5 BTC long at 68,000 plus 5 at 70,000, 10x: entry 69,000, margin 34,000 + 35,000 = 69,000.
    """
    p = _position(account, index)
    dq = number("qty", qty, lo=0, lo_open=True)
    px = number("price", price, lo=0, lo_open=True)
    q_new = p.qty_base + dq
    contract = profile.contract(p.symbol)
    ep_new = average_entry_price(contract, [p.qty_base, dq], [p.entry_price, px])
    grown = p.with_(qty_base=q_new, entry_price=ep_new, margin_usd=None)
    # dq * P / L, plus under close_fee the growth of the fee to close
    extra = opening_requirement(profile, grown) - opening_requirement(profile, p.with_(margin_usd=None))
    new = grown if p.margin_usd is None else grown.with_(margin_usd=p.margin_usd + extra)
    validate_position(profile, new)
    avail, wallet_pays = _source(profile, account, free_balance)
    if extra > avail * (1 + 1e-12):
        raise InvalidInputError("qty", f"needs {_amt(profile, account, extra)} margin, more than the free balance "
                                       f"{_amt(profile, account, avail)}; allowed up to "
                                       f"{dq * avail * p.leverage / float(settle_notional(contract, dq, px)):.6g}")
    wallet = account.wallet_usd
    if p.mode is MarginMode.ISOLATED and wallet_pays:
        wallet -= extra
    return _result("add_to_position", profile, account, index, new, max(wallet, 0.0),
                   balance_change=-extra)


def hold_with_funding(profile: Profile, account: Account, index: int, days: float, *, rate: float | None = None,
                      interval_h: float | None = None) -> WhatIf:
    """Hold for ``days`` while funding is paid every interval at ``rate``, every mark standing still.

    Every position on the position's symbol pays (or receives) ``s x value at its mark x rate`` at
    each funding time (:func:`core.funding.funding_payment`), booked by the profile's rule
    (:func:`core.funding.funding_split` through :func:`core.funding.funding_path`: an isolated
    margin, the wallet, or Bybit's available balance first) -- the simulator's own booking. The
    result's ``after`` is the position after the payments within ``days`` (its liquidation price
    moved wherever the payments came out of its collateral), and ``funding`` says what was paid
    and after which payment funding alone liquidates the position's scope at today's marks (the
    engine decides at each step, so Bybit's fee to close and every tier rule count; None when not
    within ten years). docs/domain.md §9.3.

    ``rate``: per interval, default 0.01 % per 8 hours pro rata
    (:func:`core.funding.default_funding_rate`); ``interval_h``: default the profile's.
    Payments fall at the ends of whole intervals from now: ``floor(days x 24 / interval_h)``.

    Examples
    --------
    The source FAQ's 5 BTC long at 68,000, 10x, classic (funding booked into the isolated margin):
    three days at 0.01 % pay 9 x 34 = 306 USDT out of its 34,000 margin, so its liquidation price
    rises by 306 / 5 = 61.2 (entry basis: MM is fixed); funding alone liquidates it at the 901st
    payment, when 34,000 - 901 x 34 = 3,366 falls below the 3,400 maintenance margin (day 300.3).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> from core.model import Side
    >>> faq = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    >>> res = hold_with_funding(load_profile(exchanges_dir() / "classic.toml"), faq, 0, 3, rate=0.0001)
    >>> res.funding.paid, round(res.after.liquidation_price - res.before.liquidation_price, 6), res.funding.liquidation_intervals
    (306.0, 61.2, 901)
    """
    p = _position(account, index)
    max_days = MAX_DURATION_S / 86_400.0
    d = number("days", days, lo=0, hi=max_days)
    lo_h, hi_h = FUNDING_INTERVAL_H
    ih = profile.rules.funding_interval_h if interval_h is None else number("interval_h", interval_h, lo=lo_h, hi=hi_h)
    r = default_funding_rate(ih) if rate is None else number("rate", rate, lo=-MAX_FUNDING_RATE, hi=MAX_FUNDING_RATE)
    profile = with_fee_rates(profile, account.fees)
    n = math.floor(d * 24.0 / ih + 1e-9)
    horizon = math.floor(MAX_DURATION_S / 3_600.0 / ih + 1e-9)
    payments = funding_payments(profile, account, symbol=p.symbol, rate=r)
    path = _path(profile, account, payments, max(n, horizon))

    def funded(k: int) -> Account:
        return funded_account(profile, account, wallet=float(path.wallet[k]),
                              margins={i: float(path.margin[k, i]) for i in _isolated(account)},
                              paid={i: float(path.paid[k, i]) for i, c in enumerate(payments) if c})

    def liquidated(k: int) -> bool:
        return quote_account(profile, funded(k)).positions[index].liquidatable_now

    first: int | None = None
    if liquidated(0):
        first = 0
    elif liquidated(horizon):
        lo, hi = 0, horizon  # not liquidated at lo, liquidated at hi: the payments only drain it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if liquidated(mid) else (mid, hi)
        first = hi
    outlook = FundingOutlook(rate=r, interval_h=ih, days=d, intervals=n, paid=float(path.paid[n, index]),
                             paid_symbol=float(path.paid[n].sum()), per_interval=payments[index],
                             liquidation_intervals=first)
    after = funded(n)
    return _result("hold", profile, account, index, after.positions[index], after.wallet_usd,
                   balance_change=after.wallet_usd - account.wallet_usd, after_account=after, funding=outlook)


#: The margin the engine is given for an isolated position that funding has drained to zero or
#: below (a Position needs a margin > 0): it is liquidatable there anyway, as in the simulator.
_TINY_MARGIN: Final = 1e-9


def _isolated(account: Account) -> list[int]:
    return [i for i, q in enumerate(account.positions) if q.mode is MarginMode.ISOLATED]


def _path(profile: Profile, account: Account, payments: list[float], n: int) -> FundingPath:
    """:func:`core.funding.funding_path` of ``payments`` from the account's balances."""
    cross = [q.mode is MarginMode.CROSS for q in account.positions]
    return funding_path(payments=payments, cross=cross, booking=profile.rules.funding_booking,
                        wallet=account.wallet_usd,
                        margins=[0.0 if c else position_margin(profile, q) for q, c in zip(account.positions, cross,
                                                                                          strict=True)],
                        commitment=_commitment(profile, account), n=n)


def funding_payments(profile: Profile, account: Account, *, symbol: str, rate: float,
                     skip: Collection[int] = ()) -> list[float]:
    """What each position pays at one funding time at its mark (:func:`core.funding.funding_payment`
    of its value, :func:`core.funding.position_value`); 0 for a position on another symbol or in
    ``skip`` (one the live feed has closed). docs/domain.md §9.1."""
    return [float(funding_payment(side=q.sign, value=position_value(profile, q.symbol, qty=q.qty_base,
                                                                    price=account.mark_of(q)), rate=rate))
            if q.symbol == symbol and i not in skip else 0.0 for i, q in enumerate(account.positions)]


@dataclass(frozen=True, slots=True)
class BookedFunding:
    """One funding time booked on an account: each position's payment, and how the wallet and each
    isolated margin changed (index -> change; negative: money out)."""

    paid: tuple[float, ...]
    wallet_change: float
    margin_changes: Mapping[int, float]


def book_funding(profile: Profile, account: Account, *, symbol: str, rate: float,
                 skip: Collection[int] = ()) -> BookedFunding:
    """One funding time on ``account`` at its marks, booked by the profile's rule exactly as the
    simulator books it (:func:`core.funding.funding_path` of one interval); the live feed calls it
    at each funding time of its clock. docs/domain.md §9.2.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> from core.model import Side
    >>> faq = Account("classic", positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    >>> book_funding(load_profile(exchanges_dir() / "classic.toml"), faq, symbol="BTCUSDT", rate=0.0001)
    BookedFunding(paid=(34.0,), wallet_change=0.0, margin_changes={0: -34.0})
    """
    profile = with_fee_rates(profile, account.fees)
    payments = funding_payments(profile, account, symbol=symbol, rate=rate, skip=skip)
    path = _path(profile, account, payments, 1)
    return BookedFunding(paid=tuple(payments), wallet_change=float(path.wallet[1] - path.wallet[0]),
                         margin_changes={i: float(path.margin[1, i] - path.margin[0, i]) for i in _isolated(account)})


def funded_account(profile: Profile, account: Account, *, wallet: float, margins: Mapping[int, float],
                   paid: Mapping[int, float]) -> Account:
    """``account`` with funding booked: ``wallet`` as its wallet (even in debt, :func:`_with_wallet`),
    ``margins[i]`` as isolated position ``i``'s margin (one drained to zero or below is handed to the
    engine as a tiny one: it is liquidatable there anyway, as in the simulator), and ``paid[i]`` added
    to position ``i``'s ``funding_paid``."""
    new = tuple(q.with_(margin_usd=max(margins[i], _TINY_MARGIN) if i in margins else q.margin_usd,
                        funding_paid=q.funding_paid + paid.get(i, 0.0))
                for i, q in enumerate(account.positions))
    return _with_wallet(account.with_(positions=new), wallet)


def _with_wallet(account: Account, wallet: float) -> Account:
    """``account`` with ``wallet`` as its cross wallet, even in debt.

    Funding can take the wallet below zero while cross positions' profit still backs it; the
    engine's formulas are linear in the wallet, so the account is handed over as it is (the
    simulator does the same, :meth:`core.waterfall.RunState.quote`). A person's input never gets
    here: :class:`Account` itself refuses a negative wallet.
    """
    out = account.with_(wallet_usd=max(wallet, 0.0))
    object.__setattr__(out, "wallet_usd", float(wallet))
    return out


# ---------------------------------------------------------------------------------------------
# Quick calculators (broadcasting)


def max_open_size(*, balance: ArrayLike, leverage: ArrayLike, price: ArrayLike, tiers: TierTable,
                  fee_rate: float = 0.0, lot_size: float | None = None) -> Any:
    """Largest quantity that ``balance`` can open at ``leverage`` and ``price``.

    The notional ``N = qty * price`` must lie in a tier whose maximum leverage allows ``leverage``
    (and with ``leverage < 1/MMR``), and its cost ``N * (1/L + fee_rate)`` must not exceed the
    balance. With tiers ``k`` allowed, the answer is ``max_k min(balance / (1/L + fee), cap_k)``
    over the allowed tiers whose floor the balance reaches; a notional exactly at a cap belongs to
    the next tier, so the result stays just below it. ``lot_size`` rounds down to whole lots.

    Returns 0 where no tier allows the leverage. Broadcasts over balance, leverage and price.

    Examples
    --------
    Binance BTCUSDT (2024-10-24) tier 1 allows 125x up to 50,000: 1,000 USDT at 20x buys
    20,000 notional; at 125x the 125,000 it could pay for is capped by the 50,000 tier cap.

    >>> from core.tiers import TierTable
    >>> t = TierTable.from_rows(floor=[0, 50_000], cap=[50_000, 600_000], max_leverage=[125, 100],
    ...                         mmr=[0.004, 0.005])
    >>> max_open_size(balance=1_000, leverage=20, price=100_000, tiers=t)
    0.2
    >>> float(max_open_size(balance=1_000, leverage=125, price=100_000, tiers=t, lot_size=0.001))
    0.499
    """
    b = np.asarray(balance, dtype=float)
    lev = np.asarray(leverage, dtype=float)
    px = np.asarray(price, dtype=float)
    b, lev, px = np.broadcast_arrays(b, lev, px)
    with np.errstate(divide="ignore", invalid="ignore"):
        budget = np.where(lev > 0, b / (1.0 / np.where(lev > 0, lev, 1.0) + fee_rate), 0.0)
    budget = np.maximum(budget, 0.0)
    best = np.zeros(b.shape)
    for k in range(len(tiers)):
        ok = (tiers.max_leverage[k] >= lev) & (lev * tiers.mmr[k] < 1.0) & (budget >= tiers.floor[k])
        cap_k = tiers.cap[k]
        # strictly below the cap: the cap itself is the next tier's floor
        below_cap = np.nextafter(cap_k, 0.0) if math.isfinite(cap_k) else math.inf
        n_k = np.minimum(budget, below_cap)
        best = np.where(ok, np.maximum(best, n_k), best)
    with np.errstate(divide="ignore", invalid="ignore"):
        qty = np.where(px > 0, best / np.where(px > 0, px, 1.0), np.nan)
    if lot_size is not None:
        qty = np.asarray(round_to_lot(qty, lot_size))
    # Rounding may carry qty * price onto a cap (the next tier's floor): step down until the
    # notional sits in a tier that allows the leverage and the cost fits the balance.
    inv_lev = 1.0 / np.where(lev > 0, lev, 1.0)
    for _ in range(8):
        n = qty * px
        k = tiers.index(np.nan_to_num(n))
        bad = (qty > 0) & ((tiers.max_leverage[k] < lev) | (n * (inv_lev + fee_rate) > b))
        if not bad.any():
            break
        down = qty - lot_size if lot_size is not None else np.nextafter(qty, 0.0)
        qty = np.where(bad, np.maximum(down, 0.0), qty)
    return _out(qty)


def target_price_for_roe(*, side: ArrayLike, entry: ArrayLike, leverage: ArrayLike, roe: ArrayLike) -> Any:
    """Exit price that gives return on equity ``roe`` (a fraction) on the opening margin, before fees.

    ``ROE = s * (P - EP) / EP * L``, so ``P = EP * (1 + s * roe / L)``. NaN where that is not a
    positive price (a long losing more than its whole margin's worth at L = 1, ...).

    >>> target_price_for_roe(side=1, entry=68_000, leverage=10, roe=0.5)   # +50 % at 10x: +5 %
    71400.0
    >>> target_price_for_roe(side=-1, entry=68_000, leverage=10, roe=0.5)
    64600.0
    """
    s = np.asarray(side_sign(side), dtype=float)
    ep = np.asarray(entry, dtype=float)
    lev = np.asarray(leverage, dtype=float)
    r = np.asarray(roe, dtype=float)
    p = ep * (1.0 + s * r / lev)
    return _out(np.where(p > 0, p, np.nan))


def pnl_and_roe_at_exit(*, side: ArrayLike, qty: ArrayLike, entry: ArrayLike, exit_price: ArrayLike,
                        leverage: ArrayLike | None = None, margin: ArrayLike | None = None) -> tuple[Any, Any]:
    """PnL ``s * q * (exit - EP)`` and ROE = PnL / margin, before fees.

    The margin is ``margin`` when given, else the opening margin ``q * EP / leverage``.

    >>> pnl_and_roe_at_exit(side=1, qty=5, entry=68_000, exit_price=71_400, leverage=10)
    (17000.0, 0.5)
    """
    s = np.asarray(side_sign(side), dtype=float)
    q = np.asarray(qty, dtype=float)
    ep = np.asarray(entry, dtype=float)
    pnl = s * q * (np.asarray(exit_price, dtype=float) - ep)
    if margin is None:
        if leverage is None:
            raise InvalidInputError("leverage", "give the leverage or the margin")
        m = q * ep / np.asarray(leverage, dtype=float)
    else:
        m = np.asarray(margin, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(m > 0, pnl / np.where(m > 0, m, 1.0), np.nan)
    return _out(pnl), _out(r)


def size_from_risk(*, balance: ArrayLike, risk: ArrayLike, entry: ArrayLike, stop: ArrayLike) -> Any:
    """Position size that loses ``risk * balance`` if the stop is hit (before fees and slippage).

    ``qty = balance * risk / |entry - stop|``; ``risk`` is a fraction (0.01 = 1 % of the account).
    A stop below the entry means a long, above it a short; NaN where stop == entry.

    >>> size_from_risk(balance=10_000, risk=0.01, entry=68_000, stop=66_000)   # 100 USDT / 2,000
    0.05
    """
    b = np.asarray(balance, dtype=float)
    r = np.asarray(risk, dtype=float)
    dist = np.abs(np.asarray(entry, dtype=float) - np.asarray(stop, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(dist > 0, b * r / np.where(dist > 0, dist, 1.0), np.nan)
    return _out(q)
