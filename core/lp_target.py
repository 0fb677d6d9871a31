"""Put the liquidation price where you want it: the change of margin, leverage or size that does it.

:func:`target_liquidation_price` answers "I dropped the liquidation line at 58,000: what must I
change?" with a :class:`~core.whatif.WhatIf` (the session previews it and Apply makes it real),
built by the ordinary what-if actions, so that every check they make (free balance, removable
margin, tier limits) applies:

==========  =====================================  =======================================
lever       isolated position                      cross position
==========  =====================================  =======================================
margin      add or remove margin                   deposit into or withdraw from the wallet
leverage    a new leverage (margin = notional / L)  refused: the wallet backs the position,
                                                   the leverage does not move its price
size        cut the position at the mark (margin   cut the position at the mark (its PnL
            released in proportion: the price      lands in the wallet)
            barely moves, so most places refuse)
==========  =====================================  =======================================

The answer is exact where a closed form exists: an isolated position whose maintenance margin is
on the mark without a fee term (``mm_basis = mark``, fee model ``none`` or ``taker_in_mmr``), where
the margin that gives a liquidation price T is, with the tier k of the notional q x T,

    M = s x q x EP - cum_k - T x q x (s - MMR_k)        (docs/domain.md §1.3, solved for the margin)

Everywhere else (the fee to close, the entry basis, cross collateral, leverage, size) it is a
bracketed monotone root find (:func:`core.roots.bracketed_root`) on the one engine function,
:func:`core.quote.quote_account`; the closed form is checked against the engine too. A place no
change can reach is refused with the reason and the reachable range: a long's price at or above
its mark (it would be liquidated now), beyond what the free balance or the removable margin
allows, or past the leverage the tier permits.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from core import fmt, whatif
from core.contracts import ContractType, frame_price, linear_frame
from core.errors import InvalidInputError
from core.model import Account, MarginMode, Position
from core.profiles import FeeModel, MMBasis, Profile
from core.quote import entry_notional, leverage_limit, position_margin, quote_account
from core.roots import bracketed_root
from core.validate import MAX_PRICE, number

#: What may be changed to move the liquidation price.
LEVERS: Final = ("margin", "leverage", "size")
FIELD: Final = "liquidation_price"


def _lp(profile: Profile, account: Account, index: int) -> float:
    """The position's liquidation price under ``profile`` (NaN: none)."""
    return quote_account(profile, account).positions[index].liquidation_price


def _replace(account: Account, index: int, p: Position) -> Account:
    ps = list(account.positions)
    ps[index] = p
    return account.with_(positions=tuple(ps))


def _solve(f: Callable[[float], float], target: float, lo: float, hi: float, *,
           kind: ContractType = ContractType.LINEAR, size: float = 1.0, grow: bool = False) -> float:
    """The root of ``f(x) = target`` on [lo, hi] for a liquidation price ``f``; with ``grow`` the upper
    end doubles until it brackets.

    Solved in the linear frame (core.contracts), where "no liquidation price" is the frame price
    reaching 0 (a linear long's price falling to 0, an inverse short's running away), so that ``f``
    stays continuous and monotone through it.
    """
    def g(x: float) -> float:
        y = frame_price(kind, size, f(x))
        return 0.0 if math.isnan(y) else y

    goal = frame_price(kind, size, target)
    if grow:
        for _ in range(80):
            if (g(lo) - goal) * (g(hi) - goal) <= 0:
                break
            hi *= 2.0
    return bracketed_root(g, goal, lo, hi)


def closed_form_margin(profile: Profile, position: Position, target: float) -> float | None:
    """The isolated margin that puts ``position``'s liquidation price at ``target``; None without a closed form.

    ``M = s q EP - cum_k - T q (s - MMR_k)``, k the tier at the liquidation notional q x T (or at
    the entry notional where the profile chooses the tier there). Exists for the mark basis without
    a fee term in MM (``none``, or ``taker_in_mmr``, whose rate is the table's plus the taker fee).

    Examples
    --------
    Binance BTCUSDT bracket 1 (0.4 %, cum 0): 0.5 BTC long at 60,000 liquidated at 57,228.92 needs
    30,000 - 57,228.92 x 0.5 x 0.996 = 1,500 (the worked number of docs/domain.md §1.3 on Binance's formula).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Side
    >>> binance = load_profiles([exchanges_dir()]).get("binance")
    >>> round(closed_form_margin(binance, Position("BTCUSDT", Side.LONG, 0.5, 60_000, 20), 57_228.915662650), 4)
    1500.0
    """
    rules = profile.rules
    if rules.mm_basis is not MMBasis.MARK or rules.fee_model is FeeModel.CLOSE_FEE:
        return None
    tiers = profile.effective_tiers(position.symbol)
    c = profile.contract(position.symbol)
    # in the linear frame (core.contracts): an inverse position is a linear one at size/price, in coin
    s, q, ep = linear_frame(c.type, c.size, position.sign, position.qty_base, position.entry_price)
    t = frame_price(c.type, c.size, target)
    k = int(tiers.index(q * t if rules.tier_at_liquidation else q * ep))
    return s * q * ep - float(tiers.cum[k]) - t * q * (s - float(tiers.mmr[k]))


def target_liquidation_price(profile: Profile, account: Account, index: int, target: float, *,
                             lever: str = "margin", free_balance: float | None = None) -> whatif.WhatIf:
    """The what-if that moves position ``index``'s liquidation price to ``target`` by ``lever``.

    Raises
    ------
    InvalidInputError
        (field ``liquidation_price``, or ``lever``) when no change of that kind reaches ``target``;
        the message gives the reason and, where it helps, the reachable range.

    Examples
    --------
    The source FAQ position on the classic profile (5 BTC long at 68,000, 10x, LP 61,880; entry
    basis, so the root find): to put the price at 60,000 the margin grows by 5 x 1,880 = 9,400.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Side
    >>> classic = load_profiles([exchanges_dir()]).get("classic")
    >>> acct = Account("classic", wallet_usd=20_000, positions=(Position("BTCUSDT", Side.LONG, 5, 68_000, 10),))
    >>> w = target_liquidation_price(classic, acct, 0, 60_000)
    >>> w.action, round(-w.balance_change, 6), round(w.after.liquidation_price, 6)
    ('add_margin', 9400.0, 60000.0)
    """
    if lever not in LEVERS:
        raise InvalidInputError("lever", f"expected one of {', '.join(LEVERS)}, got {lever!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(account.positions):
        raise InvalidInputError("index", f"no position {index!r}; allowed 0-{len(account.positions) - 1}")
    t = number(FIELD, target, lo=0, lo_open=True, hi=MAX_PRICE)
    p = account.positions[index]
    q0 = quote_account(profile, account).positions[index]
    tick = profile.contract(p.symbol).tick_size
    below = p.sign > 0
    if (t >= q0.mark) if below else (t <= q0.mark):
        raise InvalidInputError(FIELD, f"a {p.side.value}'s liquidation price must lie {'below' if below else 'above'} "
                                       f"the mark {fmt.price(q0.mark, tick)}, or the position is liquidated at once; "
                                       f"got {fmt.price(t, tick)}")
    if lever == "margin":
        if p.mode is MarginMode.ISOLATED:
            return _isolated_margin(profile, account, index, t, free_balance, tick)
        return _cross_wallet(profile, account, index, t, free_balance, tick)
    if lever == "leverage":
        return _leverage(profile, account, index, t, free_balance, tick)
    return _size(profile, account, index, t, q0.mark, free_balance, tick)


def _apply(make: Callable[[], whatif.WhatIf], t: float, tick: float, reach: str) -> whatif.WhatIf:
    """Run the what-if; its own refusal (free balance, removable margin) says what stops it and how far it goes."""
    try:
        return make()
    except InvalidInputError as exc:
        raise InvalidInputError(FIELD, f"{fmt.price(t, tick)} is out of reach: {exc.reason}{reach}") from None


def _isolated_margin(profile: Profile, account: Account, index: int, t: float, free: float | None,
                     tick: float) -> whatif.WhatIf:
    p = account.positions[index]
    now = position_margin(profile, p)
    kind = profile.contract(p.symbol).type

    def lp_at(m: float) -> float:
        return _lp(profile, _replace(account, index, p.with_(margin_usd=m)), index)

    m = closed_form_margin(profile, p, t)
    if m is None or not m > 0 or not abs(lp_at(m) - t) <= tick / 4:
        n = entry_notional(profile, p)  # in the settle asset, as the margin
        m = _solve(lp_at, t, 1e-9 * n, max(n, now), kind=kind, grow=True)
    if not m > 0 or not math.isfinite(m):
        raise InvalidInputError(FIELD, f"{fmt.price(t, tick)} cannot be reached by the margin of this position")
    delta = m - now
    if delta >= 0:
        avail = whatif.free_balance(profile, account) if free is None else free
        reach = f" (the free balance brings it to {fmt.price(lp_at(now + avail), tick)})"
        return _apply(lambda: whatif.add_margin(profile, account, index, delta, free_balance=free), t, tick, reach)
    cap = whatif.max_removable_margin(profile, account, index)
    reach = f" (removing all that may go brings it to {fmt.price(lp_at(now - cap), tick)})" if cap < now else ""
    return _apply(lambda: whatif.remove_margin(profile, account, index, -delta, free_balance=free), t, tick, reach)


def _cross_wallet(profile: Profile, account: Account, index: int, t: float, free: float | None,
                  tick: float) -> whatif.WhatIf:
    def lp_at(w: float) -> float:
        return _lp(profile, account.with_(wallet_usd=w), index)

    w = _solve(lp_at, t, 0.0, max(account.wallet_usd, entry_notional(profile, account.positions[index])),
               kind=profile.contract(account.positions[index].symbol).type, grow=True)
    if not math.isfinite(w):
        raise InvalidInputError(FIELD, f"{fmt.price(t, tick)} is out of reach: even an empty wallet leaves the "
                                       f"liquidation price at {fmt.price(lp_at(0.0), tick)}")
    avail = whatif.free_balance(profile, account) if free is None else free
    reach = f" (withdrawing the whole free balance brings it to {fmt.price(lp_at(account.wallet_usd - avail), tick)})"
    return _apply(lambda: whatif.change_wallet(profile, account, index, w - account.wallet_usd, free_balance=free),
                  t, tick, reach)


def _leverage(profile: Profile, account: Account, index: int, t: float, free: float | None,
              tick: float) -> whatif.WhatIf:
    p = account.positions[index]
    if p.mode is MarginMode.CROSS:
        raise InvalidInputError("lever", "in cross margin the leverage does not move the liquidation price (the "
                                         "wallet backs the position); move the margin or the size instead")
    cap, _k = leverage_limit(profile, p.symbol, entry_notional(profile, p))

    def lp_at(lev: float) -> float:
        return _lp(profile, _replace(account, index, p.with_(leverage=lev, margin_usd=None)), index)

    m = closed_form_margin(profile, p, t)
    lev = entry_notional(profile, p) / m if m is not None and m > 0 else math.nan
    if not (1.0 <= lev <= cap) or not abs(lp_at(lev) - t) <= tick / 4:
        lev = _solve(lp_at, t, 1.0, cap, kind=profile.contract(p.symbol).type)
    if not math.isfinite(lev):
        raise InvalidInputError(FIELD, f"{fmt.price(t, tick)} is out of reach by the leverage: from 1x to the tier's "
                                       f"maximum {cap:.4g}x it runs from {fmt.price(lp_at(1.0), tick)} to "
                                       f"{fmt.price(lp_at(cap), tick)}")
    return _apply(lambda: whatif.change_leverage(profile, account, index, lev, free_balance=free), t, tick, "")


def _size(profile: Profile, account: Account, index: int, t: float, mark: float, free: float | None,
          tick: float) -> whatif.WhatIf:
    p = account.positions[index]

    def cut(dq: float) -> whatif.WhatIf:
        return whatif.partial_close(profile, account, index, dq, mark, free_balance=free)

    def lp_at(dq: float) -> float:
        after = cut(dq).after if dq > 0 else quote_account(profile, account).positions[index]
        assert after is not None
        return after.liquidation_price

    most = p.qty_base * (1 - 1e-9)
    dq = _solve(lp_at, t, 0.0, most, kind=profile.contract(p.symbol).type)
    if not math.isfinite(dq) or dq <= 0:
        why = ("an isolated position keeps its liquidation price as it shrinks (its margin is released in "
               "proportion)" if p.mode is MarginMode.ISOLATED else "cutting the position moves it only so far")
        raise InvalidInputError(FIELD, f"{fmt.price(t, tick)} is out of reach by the size: {why}; cutting up to the "
                                       f"whole position runs it from {fmt.price(lp_at(0.0), tick)} to "
                                       f"{fmt.price(lp_at(most), tick)}")
    return cut(dq)
