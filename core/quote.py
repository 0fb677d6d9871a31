"""Everything a trader asks of one position or one account, with the arithmetic behind each number.

:func:`quote_account` is the one entry point the CLI and the GUI use: it validates the positions
against the profile, values each at its mark, and returns frozen :class:`PositionQuote` records whose
``explain`` entries write each headline number's formula with the numbers filled in.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import fmt
from core.errors import InvalidInputError, InvalidPositionError
from core.fees import break_even_price, net_pnl, order_fee_rates, trade_fee, with_fee_rates
from core.liquidation import bankruptcy_price, close_fee, liquidation_price, liquidation_tier
from core.margin import (
    initial_margin,
    margin_ratio,
    position_maintenance,
    side_sign,
    unrealized_pnl,
)
from core.model import Account, FeeRates, MarginMode, Position
from core.profiles import FeeModel, MMBasis, Profile
from core.risk import distance_to_liquidation
from core.tiers import TierTable


@dataclass(frozen=True, slots=True)
class TierInfo:
    index: int
    floor: float
    cap: float
    max_leverage: float
    mmr: float
    maintenance_amount: float

    @classmethod
    def of(cls, tiers: TierTable, k: int) -> TierInfo:
        r = tiers.row(int(k))
        return cls(index=int(k), floor=r["floor"], cap=r["cap"], max_leverage=r["max_leverage"],
                   mmr=r["mmr"], maintenance_amount=r["maintenance_amount"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "floor": self.floor, "cap": self.cap if math.isfinite(self.cap) else None,
            "max_leverage": self.max_leverage, "mmr": self.mmr, "maintenance_amount": self.maintenance_amount,
        }


@dataclass(frozen=True, slots=True)
class PositionQuote:
    """One position valued at its mark under a profile. NaN prices mean "none"."""

    position: Position
    mark: float
    notional: float  # at mark
    entry_notional: float
    initial_margin: float
    maintenance_margin: float
    margin: float  # isolated margin, or the cross wallet backing the position
    equity: float  # isolated: margin + uPnL; cross: the account's equity
    unrealized_pnl: float
    margin_ratio: float
    liquidation_price: float
    bankruptcy_price: float
    liquidatable_now: bool
    tier: TierInfo
    liquidation_tier: TierInfo
    close_fee: float
    collateral: float  # WB' used in the liquidation equation
    bankruptcy_collateral: float  # what equity is zero against: the margin, or wallet + others' uPnL
    explain: Mapping[str, str] = field(default_factory=dict)
    # cross: the maintenance margin of every cross position, which the margin ratio compares with
    # the account's equity; None for an isolated position
    account_maintenance: float | None = None
    # fees and funding (docs/domain.md §9.4-§9.5): the fee paid to open at the entry, the fee to
    # close at the mark (the account's order types and rates), the funding paid so far, uPnL after
    # all three, MarginLab's fee-inclusive break-even, and ROE gross and net on the initial margin
    open_fee: float = 0.0
    close_fee_at_mark: float = 0.0
    funding_paid: float = 0.0
    net_unrealized_pnl: float = math.nan
    break_even_price: float = math.nan
    roe: float = math.nan
    net_roe: float = math.nan

    @property
    def distance_to_liquidation(self) -> float:
        """Signed fraction of the mark the price may still move before liquidation (NaN if none).

        :func:`core.risk.distance_to_liquidation`; negative once the mark is past the price.
        """
        return float(distance_to_liquidation(side=self.position.sign, mark=self.mark,
                                             liquidation_price=self.liquidation_price))

    def as_dict(self) -> dict[str, Any]:
        """The CLI's JSON contract: numbers unrounded, NaN as None."""
        def n(x: float) -> float | None:
            return x if math.isfinite(x) else None

        p = self.position
        return {
            "symbol": p.symbol, "side": p.side.value, "qty": p.qty_base, "entry": p.entry_price,
            "leverage": p.leverage, "mode": p.mode.value, "mark": self.mark,
            "notional": self.notional, "entry_notional": self.entry_notional,
            "initial_margin": self.initial_margin, "maintenance_margin": self.maintenance_margin,
            "margin": self.margin, "equity": self.equity, "unrealized_pnl": self.unrealized_pnl,
            "margin_ratio": n(self.margin_ratio), "liquidation_price": n(self.liquidation_price),
            "bankruptcy_price": n(self.bankruptcy_price), "liquidatable_now": self.liquidatable_now,
            "distance_to_liquidation": n(self.distance_to_liquidation), "close_fee": self.close_fee,
            "tier": self.tier.as_dict(), "liquidation_tier": self.liquidation_tier.as_dict(),
            "open_fee": self.open_fee, "close_fee_at_mark": self.close_fee_at_mark,
            "funding_paid": self.funding_paid, "net_unrealized_pnl": self.net_unrealized_pnl,
            "break_even_price": n(self.break_even_price), "roe": n(self.roe), "net_roe": n(self.net_roe),
        }


@dataclass(frozen=True, slots=True)
class AccountQuote:
    profile: Profile
    account: Account
    positions: tuple[PositionQuote, ...]
    cross_equity: float
    cross_maintenance: float
    cross_margin_ratio: float
    cross_liquidatable_now: bool

    @property
    def isolated_margins(self) -> float:
        """The margins held by the isolated positions (outside ``account.wallet_usd``)."""
        return math.fsum(q.margin for q in self.positions if q.position.mode is MarginMode.ISOLATED)

    @property
    def wallet_balance(self) -> float:
        """What an exchange calls the wallet balance: the wallet plus every isolated margin."""
        return self.account.wallet_usd + self.isolated_margins

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.profile.id, "as_of": self.profile.as_of, "wallet": self.account.wallet_usd,
            "isolated_margins": self.isolated_margins, "wallet_balance": self.wallet_balance,
            "cross_equity": self.cross_equity, "cross_maintenance_margin": self.cross_maintenance,
            "cross_margin_ratio": self.cross_margin_ratio if math.isfinite(self.cross_margin_ratio) else None,
            "cross_liquidatable_now": self.cross_liquidatable_now,
            "positions": [q.as_dict() for q in self.positions],
        }


# ---------------------------------------------------------------------------------------------
# Validation


def leverage_limit(profile: Profile, symbol: str, notional: float) -> tuple[float, int]:
    """(highest leverage the profile accepts for a position of ``notional``, its tier index).

    The tier is the one of the notional (a notional at or past the last cap counts in the last
    tier); the limit is :meth:`core.tiers.TierTable.leverage_cap` on the profile's effective rates
    (taker fee included under ``taker_in_mmr``). Every leverage bound shown or enforced (the form's
    hint, the what-if controls, the stress map's axis, :func:`validate_position`) is this one.
    Source: docs/domain.md §2.4 (each exchange's tier table gives the maximum leverage per notional).

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> leverage_limit(load_profile(exchanges_dir() / "classic.toml"), "BTCUSDT", 340_000)
    (50.0, 2)
    """
    tiers = profile.effective_tiers(symbol)
    k = int(tiers.index(notional))
    return tiers.leverage_cap(k), k


def validate_position(profile: Profile, position: Position) -> None:
    """Refuse what the exchange would refuse, naming the field and the allowed range."""
    contract = profile.contract(position.symbol)
    tiers = profile.effective_tiers(position.symbol)
    n = position.entry_notional
    if n >= tiers.max_notional:
        raise InvalidPositionError(
            "qty", f"notional {fmt.num(n)} {contract.quote} is above the largest tier of "
            f"{profile.id} {position.symbol} (allowed < {fmt.num(tiers.max_notional)} {contract.quote})")
    _, k = leverage_limit(profile, position.symbol, n)
    amount = float(tiers.cum[k])
    if amount > tiers.mmr[k] * n:
        # only a one-tier custom contract can get here (tables start with no maintenance amount)
        raise InvalidPositionError(
            "maintenance-amount", f"{fmt.num(amount)} is more than MMR x notional = {fmt.num(tiers.mmr[k] * n)}: "
            f"the maintenance margin of this position would be negative; allowed 0-{fmt.num(tiers.mmr[k] * n)}")
    if tiers.allows_leverage(k, position.leverage):
        return
    max_lev = float(tiers.max_leverage[k])
    if position.leverage > max_lev:
        raise InvalidPositionError(
            "leverage", f"{position.leverage:g}x is above the tier maximum of {max_lev:g}x for a "
            f"{fmt.num(n)} {contract.quote} position (tier {k + 1}: {fmt.num(tiers.floor[k])}-"
            f"{fmt.num(tiers.cap[k])}); allowed 1-{max_lev:g}")
    mmr = float(tiers.mmr[k])
    raise InvalidPositionError(
        "leverage", f"{position.leverage:g}x leaves initial margin at or below maintenance "
        f"(MMR {mmr:.4%}); allowed below {1.0 / mmr:g}x")


# ---------------------------------------------------------------------------------------------
# Quoting


def required_initial_margin(profile: Profile, *, side: Any, qty: Any, entry: Any, leverage: Any) -> Any:
    """Initial margin to open a position: ``q * EP / L``, plus under ``close_fee`` the fee to close.

    Bybit takes the fee to close at the opening bankruptcy price ``EP * (1 -/+ 1/L)`` into the
    margin when the position opens, so the requirement is ``q*EP/L + f*q*EP*(1 -/+ 1/L)`` and the
    bankruptcy price of that margin is exactly ``EP * (1 -/+ 1/L)`` (docs/domain.md §1;
    :func:`core.liquidation.close_fee` of that margin is the same fee). Broadcasts.

    Examples
    --------
    Bybit UTA, 1 BTC long at 40,000, 50x, taker 0.055 %: 800 + 0.00055 x 40,000 x 0.98 = 821.56.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> round(required_initial_margin(load_profile(exchanges_dir() / "bybit.toml"), side=1, qty=1,
    ...                               entry=40_000, leverage=50), 6)
    821.56
    """
    im = initial_margin(qty=qty, entry=entry, leverage=leverage)
    if profile.rules.fee_model is not FeeModel.CLOSE_FEE:
        return im
    s = np.asarray(side_sign(side), dtype=float)
    fee = profile.rules.taker_fee * np.asarray(qty, dtype=float) * np.asarray(entry, dtype=float) * (
        1.0 - s / np.asarray(leverage, dtype=float))
    out = np.asarray(im) + fee
    return float(out) if out.ndim == 0 else out


def position_margin(profile: Profile, p: Position) -> float:
    """The margin an isolated position holds: ``margin_usd``, or :func:`opening_requirement`."""
    return opening_requirement(profile, p) if p.margin_usd is None else p.margin_usd


def opening_requirement(profile: Profile, p: Position) -> float:
    """Initial margin to open ``p``: :func:`required_initial_margin` for ``p``'s side, size, entry and leverage.

    ``q x EP / L``, plus the fee to close at the bankruptcy price under Bybit's ``close_fee`` model
    (docs/domain.md §1.4). Worked: 5 BTC at 68,000 at 10x under ``classic``: 34,000 USDT.
    """
    return float(required_initial_margin(profile, side=p.sign, qty=p.qty_base, entry=p.entry_price,
                                         leverage=p.leverage))


def position_close_fee(profile: Profile, p: Position) -> float:
    """The fee to close that the profile adds to ``p``'s maintenance margin (0 unless ``close_fee``).

    :func:`core.liquidation.close_fee` at the bankruptcy price of the position's own margin:
    its isolated margin, or for a cross position its opening requirement (docs/domain.md §1).
    Worked (Bybit, https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account):
    1 BTC long at 50,000 at 10x, taker 0.055 %: BP = 45,000, fee = 0.00055 x 45,000 = 24.75 USDT.
    """
    rules = profile.rules
    if rules.fee_model is not FeeModel.CLOSE_FEE:
        return 0.0
    margin = position_margin(profile, p) if p.mode is MarginMode.ISOLATED else opening_requirement(profile, p)
    return float(close_fee(side=p.sign, qty=p.qty_base, entry=p.entry_price, margin=margin,
                           taker_fee=rules.taker_fee))


@dataclass(frozen=True, slots=True)
class _Terms:
    """Per-position numbers every quote of an account is built from (each from its one rule)."""

    marks: list[float]
    upnl: list[float]
    mm: list[tuple[float, int]]  # maintenance margin before the fee to close, and its tier
    fee: list[float]  # the fee to close the profile adds to MM
    cross: list[bool]
    order_rates: tuple[float, float] = (0.0, 0.0)  # fee rates of the opening and the closing order

    def req(self, i: int) -> float:
        return self.mm[i][0] + self.fee[i]

    def collateral(self, wallet: float, i: int) -> tuple[float, float]:
        """A cross position's (WB', WB'_bp): wallet + others' uPnL, minus others' MM for WB'."""
        others = [j for j in range(len(self.cross)) if self.cross[j] and j != i]
        upnl = math.fsum(self.upnl[j] for j in others)
        return wallet + upnl - math.fsum(self.req(j) for j in others), wallet + upnl


def _terms(profile: Profile, account: Account) -> _Terms:
    for i, p in enumerate(account.positions):
        try:
            validate_position(profile, p)
        except InvalidInputError as exc:
            if len(account.positions) == 1:
                raise
            raise InvalidPositionError(f"positions[{i}].{exc.field}", exc.reason) from None
    ps = account.positions
    marks = [account.mark_of(p) for p in ps]
    return _Terms(
        marks=marks,
        upnl=[float(unrealized_pnl(side=p.sign, qty=p.qty_base, entry=p.entry_price, mark=m))
              for p, m in zip(ps, marks, strict=True)],
        mm=[position_maintenance(profile, p.symbol, qty=p.qty_base, entry=p.entry_price, mark=m)
            for p, m in zip(ps, marks, strict=True)],
        fee=[position_close_fee(profile, p) for p in ps],
        cross=[p.mode is MarginMode.CROSS for p in ps],
        order_rates=order_fee_rates(profile, account.fees))


def position_collateral(profile: Profile, account: Account, index: int) -> float:
    """``WB'``: the collateral that backs ``account.positions[index]`` in the liquidation equation.

    Isolated: its margin. Cross: the wallet plus the other cross positions' uPnL minus their
    maintenance margin, each held at its mark (docs/domain.md §1). Every view of a position inside its
    account (results, compare, the stress map) starts from this number.
    Worked: the FAQ long isolated with 34,000 of margin has ``WB' = 34,000``; cross in a 20,000
    wallet with nothing else held, ``WB' = 20,000``.
    """
    p = account.positions[index]
    if p.mode is MarginMode.ISOLATED:
        validate_position(profile, p)
        return position_margin(profile, p)
    return _terms(profile, account).collateral(account.wallet_usd, index)[0]


def quote_account(profile: Profile, account: Account) -> AccountQuote:
    """Value every position of ``account`` at its mark; cross positions share the wallet.

    The account's own fee rates (``account.fees``) replace the profile's first
    (:func:`core.fees.with_fee_rates`); ``AccountQuote.profile`` is that profile.
    """
    profile = with_fee_rates(profile, account.fees)
    terms = _terms(profile, account)
    cross = terms.cross
    cross_equity = account.wallet_usd + math.fsum(u for u, c in zip(terms.upnl, cross, strict=True) if c)
    cross_mm = math.fsum(terms.req(i) for i, c in enumerate(cross) if c)
    cross_ratio = (cross_mm / cross_equity) if cross_equity > 0 else math.inf
    quotes = []
    for i, p in enumerate(account.positions):
        if cross[i]:
            collateral, collateral_bp = terms.collateral(account.wallet_usd, i)
            equity = cross_equity
        else:
            collateral_bp = collateral = position_margin(profile, p)
            equity = collateral + terms.upnl[i]
        quotes.append(_quote_one(profile, p, terms, i, collateral, collateral_bp, equity,
                                 account.wallet_usd if cross[i] else collateral,
                                 cross_mm if cross[i] else None))
    return AccountQuote(profile, account, tuple(quotes), cross_equity, cross_mm, cross_ratio,
                        bool(any(cross) and cross_equity < cross_mm))


def _quote_one(profile: Profile, p: Position, terms: _Terms, i: int, collateral: float, collateral_bp: float,
               equity: float, margin: float, account_mm: float | None) -> PositionQuote:
    rules = profile.rules
    contract = profile.contract(p.symbol)
    tiers = profile.effective_tiers(p.symbol)
    mark, upnl, (mm0, k), fee = terms.marks[i], terms.upnl[i], terms.mm[i], terms.fee[i]
    # equity after the position's one fee to close is zero (for an isolated position this is the
    # fee-inclusive BP (q*EP -/+ margin) / (q*(1 -/+ f)) itself: the fee is taken at that price)
    bp = float(bankruptcy_price(side=p.sign, qty=p.qty_base, entry=p.entry_price, wallet=collateral_bp - fee))
    mm = mm0 + fee
    im = opening_requirement(profile, p)
    lp = float(liquidation_price(side=p.sign, qty=p.qty_base, entry=p.entry_price, wallet=collateral - fee,
                                 tiers=contract.tiers, mm_basis=rules.mm_basis,
                                 fee_model=FeeModel.NONE if rules.fee_model is FeeModel.CLOSE_FEE else rules.fee_model,
                                 taker_fee=rules.taker_fee, tier_at_liquidation=rules.tier_at_liquidation))
    k_lp = int(liquidation_tier(side=p.sign, qty=p.qty_base, entry=p.entry_price, wallet=collateral - fee,
                                tiers=tiers, mm_basis=rules.mm_basis, tier_at_liquidation=rules.tier_at_liquidation))
    check_mm = mm if account_mm is None else account_mm
    ratio = float(margin_ratio(maintenance=check_mm, equity=equity))
    f_open, f_close = terms.order_rates
    net = float(net_pnl(side=p.sign, qty=p.qty_base, entry=p.entry_price, exit_price=mark, open_rate=f_open,
                        close_rate=f_close, funding_paid=p.funding_paid))
    q = PositionQuote(
        position=p, mark=mark, notional=p.qty_base * mark, entry_notional=p.entry_notional,
        initial_margin=im, maintenance_margin=mm, margin=margin, equity=equity, unrealized_pnl=upnl,
        margin_ratio=ratio, liquidation_price=lp, bankruptcy_price=bp,
        liquidatable_now=bool(equity < check_mm), tier=TierInfo.of(tiers, k),
        liquidation_tier=TierInfo.of(tiers, k_lp), close_fee=fee, collateral=collateral,
        bankruptcy_collateral=collateral_bp, account_maintenance=account_mm,
        open_fee=float(trade_fee(qty=p.qty_base, price=p.entry_price, rate=f_open)),
        close_fee_at_mark=float(trade_fee(qty=p.qty_base, price=mark, rate=f_close)),
        funding_paid=p.funding_paid, net_unrealized_pnl=net,
        break_even_price=float(break_even_price(side=p.sign, qty=p.qty_base, entry=p.entry_price, open_rate=f_open,
                                                close_rate=f_close, funding_paid=p.funding_paid)),
        roe=upnl / im if im > 0 else math.nan, net_roe=net / im if im > 0 else math.nan,
    )
    object.__setattr__(q, "explain", explain(profile, q, contract.quote))
    return q


def single_account(profile: Profile, position: Position, *, mark: float | None = None,
                   wallet: float | None = None, fees: FeeRates | None = None) -> Account:
    """An account holding ``position`` alone: isolated on its margin, or cross on ``wallet``
    (default: its margin), at ``mark`` (default: the entry), with the account's ``fees``."""
    if position.mode is MarginMode.CROSS:
        w = position_margin(profile, position) if wallet is None else wallet
    else:
        w = 0.0
    return Account(profile_id=profile.id, wallet_usd=w, positions=(position,),
                   marks=((position.symbol, position.entry_price if mark is None else mark),),
                   fees=fees or FeeRates())


def quote_position(profile: Profile, position: Position, *, mark: float | None = None,
                   wallet: float | None = None, fees: FeeRates | None = None) -> PositionQuote:
    """One position alone (:func:`single_account`), quoted."""
    return quote_account(profile, single_account(profile, position, mark=mark, wallet=wallet, fees=fees)).positions[0]


# ---------------------------------------------------------------------------------------------
# Explanations


def explain(profile: Profile, q: PositionQuote, ccy: str = "USDT") -> dict[str, str]:
    """The arithmetic behind each headline number, numbers filled in (shown by --explain and the GUI)."""
    p = q.position
    r = profile.rules
    n = fmt.num
    s = "+" if p.sign > 0 else "-"
    t, tl = q.tier, q.liquidation_tier
    ex: dict[str, str] = {}
    ex["notional"] = f"notional = qty x mark = {n(p.qty_base)} x {n(q.mark)} = {n(q.notional)} {ccy}"
    im_base = p.entry_notional / p.leverage
    ex["initial_margin"] = (f"IM = qty x entry / leverage = {n(p.qty_base)} x {n(p.entry_price)} / "
                            f"{n(p.leverage)} = {n(im_base)} {ccy}")
    if r.fee_model is FeeModel.CLOSE_FEE:
        ex["initial_margin"] += (f"; + fee to close at EP x (1 {'-' if p.sign > 0 else '+'} 1/L): "
                                 f"{n(q.initial_margin - im_base)} -> {n(q.initial_margin)} {ccy}")
    basis_price = p.entry_price if r.mm_basis is MMBasis.ENTRY else q.mark
    basis_word = "entry" if r.mm_basis is MMBasis.ENTRY else "mark"
    mmr_word = "MMR" + (" + taker fee" if r.fee_model is FeeModel.TAKER_IN_MMR else "")
    mm_text = (f"MM = {mmr_word} x qty x {basis_word} - maintenance amount = {n(t.mmr)} x {n(p.qty_base)} x "
               f"{n(basis_price)} - {n(t.maintenance_amount)}")
    if r.fee_model is FeeModel.CLOSE_FEE:
        mm_text += f" + fee to close {n(q.close_fee)}"
    ex["maintenance_margin"] = f"{mm_text} = {n(q.maintenance_margin)} {ccy} (tier {t.index + 1}, notional {n(t.floor)}-{n(t.cap)})"
    ex["unrealized_pnl"] = (f"uPnL = side x qty x (mark - entry) = {s}1 x {n(p.qty_base)} x ({n(q.mark)} - "
                            f"{n(p.entry_price)}) = {n(q.unrealized_pnl)} {ccy}")
    if q.account_maintenance is None:
        ex["margin_ratio"] = (f"margin ratio = MM / equity = {n(q.maintenance_margin)} / {n(q.equity)} = "
                              f"{fmt.pct(q.margin_ratio)} (100 % liquidates)")
    else:
        ex["margin_ratio"] = (f"margin ratio = MM of all cross positions / account equity = "
                              f"{n(q.account_maintenance)} / {n(q.equity)} = {fmt.pct(q.margin_ratio)} "
                              "(100 % liquidates every cross position)")
    wb = q.collateral - (q.close_fee if r.fee_model is FeeModel.CLOSE_FEE else 0.0)
    wb_word = "margin" if p.mode is MarginMode.ISOLATED else "collateral (wallet + others' uPnL - others' MM)"
    if r.fee_model is FeeModel.CLOSE_FEE:
        wb_word += " - fee to close"
    if r.mm_basis is MMBasis.MARK:
        lp_text = (f"LP solves {wb_word} + side x qty x (P - entry) = MMR x qty x P - maintenance amount: "
                   f"LP = (side x qty x entry - WB - amount) / (qty x (side - MMR)) = "
                   f"({s}{n(p.qty_base * p.entry_price)} - {n(wb)} - {n(tl.maintenance_amount)}) / "
                   f"({n(p.qty_base)} x ({s}1 - {n(tl.mmr)})) = {fmt.num(q.liquidation_price)}")
        if r.tier_at_liquidation:
            lp_text += f" (tier {tl.index + 1} chosen at the liquidation notional {fmt.num(p.qty_base * q.liquidation_price)})"
    else:
        mm_entry = tl.mmr * p.qty_base * p.entry_price - tl.maintenance_amount
        lp_text = (f"LP = entry {'-' if p.sign > 0 else '+'} ({wb_word} - MM) / qty = {n(p.entry_price)} "
                   f"{'-' if p.sign > 0 else '+'} ({n(wb)} - {n(mm_entry)}) / {n(p.qty_base)} = "
                   f"{fmt.num(q.liquidation_price)}")
        wrong = p.entry_price - p.sign * (wb - mm_entry) / p.leverage
        if math.isfinite(q.liquidation_price) and abs(wrong - q.liquidation_price) > 1e-9 * p.entry_price:
            lp_text += (f". Dividing by the leverage instead of the size, as one source FAQ does, gives "
                        f"{n(wrong)}: a {ccy} amount divided by {n(p.leverage)} is not a price move; "
                        f"the loss per unit is the amount divided by the {n(p.qty_base)} units held")
    if not math.isfinite(q.liquidation_price):
        lp_text += " -> no liquidation price: the collateral covers the whole position (shown as --)"
    ex["liquidation_price"] = lp_text
    minus = "-" if p.sign > 0 else "+"
    if p.mode is MarginMode.ISOLATED:
        coll_word, coll_nums = "margin", n(q.bankruptcy_collateral)
    else:
        others = q.bankruptcy_collateral - q.margin
        coll_word = "(wallet + others' uPnL)"
        coll_nums = f"({n(q.margin)} {'-' if others < 0 else '+'} {n(abs(others))})"
    if r.fee_model is FeeModel.CLOSE_FEE:
        ex["bankruptcy_price"] = (f"BP = (qty x entry {minus} {coll_word}) / (qty x (1 {minus} taker fee)) = "
                                  f"({n(p.qty_base)} x {n(p.entry_price)} {minus} {coll_nums}) / ({n(p.qty_base)} x "
                                  f"(1 {minus} {n(r.taker_fee)})) = {fmt.num(q.bankruptcy_price)}: equity after the "
                                  "fee to close is zero")
    else:
        ex["bankruptcy_price"] = (f"BP = entry {minus} {coll_word} / qty = {n(p.entry_price)} {minus} "
                                  f"{coll_nums} / {n(p.qty_base)} = {fmt.num(q.bankruptcy_price)}: equity is zero "
                                  "there")
    f_close = q.close_fee_at_mark / q.notional if q.notional > 0 else 0.0
    ex["net_unrealized_pnl"] = (f"net uPnL = uPnL - fee to open at entry - fee to close at mark - funding paid = "
                                f"{n(q.unrealized_pnl)} - {n(q.open_fee)} - {n(q.close_fee_at_mark)} - "
                                f"{n(q.funding_paid)} = {n(q.net_unrealized_pnl)} {ccy}")
    ex["break_even_price"] = (f"break-even = (side x qty x entry + fee to open + funding paid) / (qty x (side - "
                              f"close fee rate)) = ({s}{n(p.entry_notional)} + {n(q.open_fee)} + {n(q.funding_paid)}) / "
                              f"({n(p.qty_base)} x ({s}1 - {n(f_close)})) = {fmt.num(q.break_even_price)}: the exit "
                              "where PnL after both fees and the funding paid is zero (MarginLab's; an exchange's "
                              "\"breakeven\" may leave fees out)")
    return ex


def quote_many(profile: Profile, positions: Sequence[Position], marks: Mapping[str, float] | None = None,
               wallet: float = 0.0) -> AccountQuote:
    """Convenience for tests and scripts: an account from a list of positions."""
    acct = Account(profile_id=profile.id, wallet_usd=wallet, positions=tuple(positions),
                   marks=tuple(sorted((marks or {}).items())))
    return quote_account(profile, acct)
