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
from core.contracts import ContractType, frame_price, linear_frame
from core.errors import InvalidInputError, InvalidPositionError
from core.fees import break_even_price, net_pnl, order_fee_rates, trade_fee, with_fee_rates
from core.liquidation import (
    JointPrices,
    bankruptcy_price,
    close_fee,
    joint_liquidation_price,
    liquidation_price,
    liquidation_tier,
)
from core.margin import (
    contract_frame,
    initial_margin,
    margin_ratio,
    position_maintenance,
    side_sign,
    unrealized_pnl,
)
from core.model import (
    Account,
    FeeRates,
    MarginMode,
    Position,
    PositionMode,
    check_position_mode,
    infer_position_mode,
)
from core.profiles import Contract, FeeModel, MMBasis, Profile
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
    # the asset every amount above is in (the contract's settle asset), the contract's type and size
    settle_asset: str = "USDT"
    contract_type: ContractType = ContractType.LINEAR
    contract_size: float = 1.0
    # the other cross legs of the same symbol, solved jointly with this one (hedge mode): indices
    # into the account's positions; they share liquidation_price and bankruptcy_price
    shares_lp_with: tuple[int, ...] = ()
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
            "contract_type": self.contract_type.value, "contract_size": self.contract_size,
            "settle_asset": self.settle_asset, "shares_lp_with": list(self.shares_lp_with),
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

    @property
    def settle_asset(self) -> str:
        """The asset the wallet and every amount are in (:func:`account_settle_asset`)."""
        return account_settle_asset(self.profile, self.account)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.profile.id, "as_of": self.profile.as_of, "settle_asset": self.settle_asset,
            "position_mode": self.account.position_mode.value, "wallet": self.account.wallet_usd,
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


@dataclass(frozen=True, slots=True)
class Leg:
    """A position in its contract's linear frame (:mod:`core.contracts`): side +1/-1, quantity and
    entry price as the linear rules read them (inverse: ``-s``, ``C`` contracts, ``S/EP``)."""

    contract: Contract
    s: float
    q: float
    ep: float

    def price(self, p: float) -> float:
        """A price of the position (mark, exit) in the frame, or a frame price back (its own inverse)."""
        return float(frame_price(self.contract.type, self.contract.size, p))


def position_leg(profile: Profile, p: Position) -> Leg:
    """``p`` in the linear frame of its contract (docs/domain.md §7)."""
    c = profile.contract(p.symbol)
    s, q, ep = linear_frame(c.type, c.size, float(p.sign), p.qty_base, p.entry_price)
    return Leg(c, s, q, ep)


def entry_notional(profile: Profile, p: Position) -> float:
    """The position's notional at its entry price in the settle asset: linear ``q*EP``, inverse
    ``C*S/EP`` -- what its tier at entry is chosen by."""
    leg = position_leg(profile, p)
    return leg.q * leg.ep


def position_settle_asset(profile: Profile, p: Position) -> str:
    """The asset ``p``'s margin and PnL are in (its contract's ``settle``)."""
    return profile.contract(p.symbol).settle


def account_settle_asset(profile: Profile, account: Account) -> str:
    """The asset an account's wallet is in: its positions' settle asset (they share one, :func:`check_account`),
    or with no position the settle asset of the profile's first contract."""
    if account.positions:
        return position_settle_asset(profile, account.positions[0])
    return profile.contract(profile.symbols[0]).settle if profile.symbols else "USDT"


def check_account(profile: Profile, account: Account) -> None:
    """Refuse an account its exchange could not hold: more positions per symbol than its
    ``position_mode`` allows (:func:`core.model.check_position_mode`, field ``position_mode``), or
    positions settling in different assets (field ``positions[i].symbol``: an account's wallet is
    in one asset). :func:`quote_account` calls it."""
    check_position_mode(account)
    if not account.positions:
        return
    first = account.positions[0]
    asset = position_settle_asset(profile, first)
    for i, p in enumerate(account.positions[1:], start=1):
        other = position_settle_asset(profile, p)
        if other != asset:
            raise InvalidInputError(
                f"positions[{i}].symbol", f"{p.symbol} settles in {other} but {first.symbol} settles in "
                f"{asset}: an account's wallet is in one asset; hold them in separate accounts")


def validate_position(profile: Profile, position: Position) -> None:
    """Refuse what the exchange would refuse, naming the field and the allowed range."""
    contract = profile.contract(position.symbol)
    tiers = profile.effective_tiers(position.symbol)
    n = entry_notional(profile, position)
    ccy = contract.settle
    if n >= tiers.max_notional:
        raise InvalidPositionError(
            "qty", f"notional {fmt.num(n)} {ccy} is above the largest tier of "
            f"{profile.id} {position.symbol} (allowed < {fmt.num(tiers.max_notional)} {ccy})")
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
            f"{fmt.num(n)} {ccy} position (tier {k + 1}: {fmt.num(tiers.floor[k])}-"
            f"{fmt.num(tiers.cap[k])}); allowed 1-{max_lev:g}")
    mmr = float(tiers.mmr[k])
    raise InvalidPositionError(
        "leverage", f"{position.leverage:g}x leaves initial margin at or below maintenance "
        f"(MMR {mmr:.4%}); allowed below {1.0 / mmr:g}x")


# ---------------------------------------------------------------------------------------------
# Quoting


def required_initial_margin(profile: Profile, *, side: Any, qty: Any, entry: Any, leverage: Any,
                            symbol: str | None = None) -> Any:
    """Initial margin to open a position: ``q * EP / L``, plus under ``close_fee`` the fee to close.

    With ``symbol``, the position is on that contract and goes through its linear frame (an
    inverse contract: ``C*S/(EP*L)`` in the coin, and a fee to close of
    ``f*C*S/EP*(1 +/- 1/L)``, Bybit's inverse order cost); without, it is linear.

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
    if symbol is not None:
        side, qty, entry = contract_frame(profile.contract(symbol), side=side, qty=qty, price=entry)
    im = initial_margin(qty=qty, entry=entry, leverage=leverage)
    if profile.rules.fee_model is not FeeModel.CLOSE_FEE:
        return im
    s = np.asarray(side, dtype=float) if symbol is not None else np.asarray(side_sign(side), dtype=float)
    fee = profile.rules.taker_fee * np.asarray(qty, dtype=float) * np.asarray(entry, dtype=float) * (
        1.0 - s / np.asarray(leverage, dtype=float))
    out = np.asarray(im) + fee
    return float(out) if out.ndim == 0 else out


def order_cost(profile: Profile, p: Position) -> float:
    """What opening ``p`` takes from the balance: its opening requirement (:func:`opening_requirement`,
    with the fee to close under ``close_fee``) plus the taker fee to open on its entry notional,
    ``f * N(EP)``, in the settle asset.

    Examples
    --------
    Bybit's order-cost article (taker 0.055 %), inverse: 10,000 ETHUSD (1 USD) long at 2,000, 25x:
    IM 5 / 25 = 0.2 ETH, fee to open 5 x 0.00055 = 0.00275, fee to close 5 x (1 + 1/25) x 0.00055 =
    0.00286: 0.20561 ETH.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profile
    >>> bybit_inverse = load_profile(exchanges_dir() / "bybit-inverse.toml")
    >>> round(order_cost(bybit_inverse, Position("ETHUSD", "long", 10_000, 2_000, 25)), 8)
    0.20561

    References
    ----------
    https://testnet.bybit.com/en/help-center/article/Order-Cost-USDT-Contract
    """
    leg = position_leg(profile, p)
    return opening_requirement(profile, p) + float(trade_fee(qty=leg.q, price=leg.ep, rate=profile.rules.taker_fee))


def position_margin(profile: Profile, p: Position) -> float:
    """The margin an isolated position holds: ``margin_usd``, or :func:`opening_requirement`."""
    return opening_requirement(profile, p) if p.margin_usd is None else p.margin_usd


def opening_requirement(profile: Profile, p: Position) -> float:
    """Initial margin to open ``p``: :func:`required_initial_margin` for ``p``'s side, size, entry and leverage.

    ``q x EP / L``, plus the fee to close at the bankruptcy price under Bybit's ``close_fee`` model
    (docs/domain.md §1.4). Worked: 5 BTC at 68,000 at 10x under ``classic``: 34,000 USDT.
    """
    return float(required_initial_margin(profile, side=p.sign, qty=p.qty_base, entry=p.entry_price,
                                         leverage=p.leverage, symbol=p.symbol))


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
    leg = position_leg(profile, p)
    return float(close_fee(side=leg.s, qty=leg.q, entry=leg.ep, margin=margin, taker_fee=rules.taker_fee))


@dataclass(frozen=True, slots=True)
class _Terms:
    """Per-position numbers every quote of an account is built from (each from its one rule),
    in the linear frame of each position's contract (``legs``, ``xmarks``: the mark there)."""

    marks: list[float]
    legs: list[Leg]
    xmarks: list[float]
    upnl: list[float]
    mm: list[tuple[float, int]]  # maintenance margin before the fee to close, and its tier
    fee: list[float]  # the fee to close the profile adds to MM
    cross: list[bool]
    groups: dict[int, tuple[int, ...]]  # cross legs of one symbol solved jointly: index -> the group
    order_rates: tuple[float, float] = (0.0, 0.0)  # fee rates of the opening and the closing order

    def req(self, i: int) -> float:
        return self.mm[i][0] + self.fee[i]

    def collateral(self, wallet: float, i: int) -> tuple[float, float]:
        """A cross position's (WB', WB'_bp): wallet + others' uPnL, minus others' MM for WB'.

        "Others" are the cross positions outside the position's joint group (its own symbol's other
        cross legs move with it, :func:`core.liquidation.joint_liquidation_price`)."""
        group = self.groups.get(i, (i,))
        others = [j for j in range(len(self.cross)) if self.cross[j] and j not in group]
        upnl = math.fsum(self.upnl[j] for j in others)
        return wallet + upnl - math.fsum(self.req(j) for j in others), wallet + upnl


def validate_account(profile: Profile, account: Account) -> None:
    """Refuse what :func:`quote_account` would refuse, without quoting: each position
    (:func:`validate_position`, field ``positions[i].…`` when there are several) and the account
    (:func:`check_account`). ``profile`` with the account's fee rates already applied
    (:func:`core.fees.with_fee_rates`), as :func:`quote_account` applies them."""
    for i, p in enumerate(account.positions):
        try:
            validate_position(profile, p)
        except InvalidInputError as exc:
            if len(account.positions) == 1:
                raise
            raise InvalidPositionError(f"positions[{i}].{exc.field}", exc.reason) from None
    check_account(profile, account)


def _terms(profile: Profile, account: Account) -> _Terms:
    validate_account(profile, account)
    ps = account.positions
    marks = [account.mark_of(p) for p in ps]
    legs = [position_leg(profile, p) for p in ps]
    xmarks = [leg.price(m) for leg, m in zip(legs, marks, strict=True)]
    cross = [p.mode is MarginMode.CROSS for p in ps]
    by_symbol: dict[str, list[int]] = {}
    for i, p in enumerate(ps):
        if cross[i]:
            by_symbol.setdefault(p.symbol, []).append(i)
    groups = {i: tuple(g) for g in by_symbol.values() if len(g) > 1 for i in g}
    return _Terms(
        marks=marks, legs=legs, xmarks=xmarks,
        upnl=[float(unrealized_pnl(side=leg.s, qty=leg.q, entry=leg.ep, mark=x))
              for leg, x in zip(legs, xmarks, strict=True)],
        mm=[position_maintenance(profile, p.symbol, qty=leg.q, entry=leg.ep, mark=x)
            for p, leg, x in zip(ps, legs, xmarks, strict=True)],
        fee=[position_close_fee(profile, p) for p in ps],
        cross=cross, groups=groups, order_rates=order_fee_rates(profile, account.fees))


def position_collateral(profile: Profile, account: Account, index: int) -> float:
    """``WB'``: the collateral that backs ``account.positions[index]`` in the liquidation equation.

    Isolated: its margin. Cross: the wallet plus the other cross positions' uPnL minus their
    maintenance margin, each held at its mark (docs/domain.md §1); the other cross legs of the same
    symbol (hedge mode) are not held: they move with it (§8). Every view of a position inside its
    account (results, compare, the stress map) starts from this number.
    Worked: the FAQ long isolated with 34,000 of margin has ``WB' = 34,000``; cross in a 20,000
    wallet with nothing else held, ``WB' = 20,000``.
    """
    p = account.positions[index]
    if p.mode is MarginMode.ISOLATED:
        validate_position(profile, p)
        return position_margin(profile, p)
    return _terms(profile, account).collateral(account.wallet_usd, index)[0]


def _joint(profile: Profile, terms: _Terms, wallet: float, group: tuple[int, ...]) -> JointPrices:
    """The shared prices of one symbol's cross legs (in their linear frame), each leg's fee to close
    taken out of the collateral as for a single position."""
    rules = profile.rules
    first = group[0]
    collateral, collateral_bp = terms.collateral(wallet, first)
    fees = math.fsum(terms.fee[i] for i in group)
    legs = [terms.legs[i] for i in group]
    return joint_liquidation_price(
        sides=[leg.s for leg in legs], qtys=[leg.q for leg in legs], entries=[leg.ep for leg in legs],
        wallet=collateral - fees, bankruptcy_wallet=collateral_bp - fees,
        tiers=profile.effective_tiers(terms.legs[first].contract.symbol), mm_basis=rules.mm_basis,
        tier_at_liquidation=rules.tier_at_liquidation)


def quote_account(profile: Profile, account: Account) -> AccountQuote:
    """Value every position of ``account`` at its mark; cross positions share the wallet.

    The account must be one its exchange could hold (:func:`check_account`). Cross legs of one
    symbol (hedge mode) share one liquidation price (:func:`core.liquidation.joint_liquidation_price`,
    docs/domain.md §8); every other cross position is held at its mark. The account's own fee rates
    (``account.fees``) replace the profile's first (:func:`core.fees.with_fee_rates`);
    ``AccountQuote.profile`` is that profile.
    """
    profile = with_fee_rates(profile, account.fees)
    terms = _terms(profile, account)
    cross = terms.cross
    cross_equity = account.wallet_usd + math.fsum(u for u, c in zip(terms.upnl, cross, strict=True) if c)
    cross_mm = math.fsum(terms.req(i) for i, c in enumerate(cross) if c)
    cross_ratio = (cross_mm / cross_equity) if cross_equity > 0 else math.inf
    joints: dict[tuple[int, ...], JointPrices] = {}
    quotes = []
    for i, p in enumerate(account.positions):
        group = terms.groups.get(i)
        joint = None
        if group is not None:
            if group not in joints:
                joints[group] = _joint(profile, terms, account.wallet_usd, group)
            joint = (joints[group], group)
        if cross[i]:
            collateral, collateral_bp = terms.collateral(account.wallet_usd, i)
            equity = cross_equity
        else:
            collateral_bp = collateral = position_margin(profile, p)
            equity = collateral + terms.upnl[i]
        quotes.append(_quote_one(profile, p, terms, i, collateral, collateral_bp, equity,
                                 account.wallet_usd if cross[i] else collateral,
                                 cross_mm if cross[i] else None, joint))
    return AccountQuote(profile, account, tuple(quotes), cross_equity, cross_mm, cross_ratio,
                        bool(any(cross) and cross_equity < cross_mm))


def _quote_one(profile: Profile, p: Position, terms: _Terms, i: int, collateral: float, collateral_bp: float,
               equity: float, margin: float, account_mm: float | None,
               joint: tuple[JointPrices, tuple[int, ...]] | None = None) -> PositionQuote:
    rules = profile.rules
    leg = terms.legs[i]
    contract = leg.contract
    tiers = profile.effective_tiers(p.symbol)
    mark, upnl, (mm0, k), fee = terms.marks[i], terms.upnl[i], terms.mm[i], terms.fee[i]
    s, q_, ep = leg.s, leg.q, leg.ep
    if joint is None:
        # equity after the position's one fee to close is zero (for an isolated position this is the
        # fee-inclusive BP (q*EP -/+ margin) / (q*(1 -/+ f)) itself: the fee is taken at that price)
        bp_x = float(bankruptcy_price(side=s, qty=q_, entry=ep, wallet=collateral_bp - fee))
        lp_x = float(liquidation_price(side=s, qty=q_, entry=ep, wallet=collateral - fee,
                                       tiers=contract.tiers, mm_basis=rules.mm_basis,
                                       fee_model=FeeModel.NONE if rules.fee_model is FeeModel.CLOSE_FEE
                                       else rules.fee_model, taker_fee=rules.taker_fee,
                                       tier_at_liquidation=rules.tier_at_liquidation))
        k_lp = int(liquidation_tier(side=s, qty=q_, entry=ep, wallet=collateral - fee, tiers=tiers,
                                    mm_basis=rules.mm_basis, tier_at_liquidation=rules.tier_at_liquidation))
        shares: tuple[int, ...] = ()
    else:
        prices, group = joint
        lp_x, bp_x = prices.liquidation_price, prices.bankruptcy_price
        k_lp = prices.tiers[group.index(i)]
        shares = tuple(j for j in group if j != i)
    mm = mm0 + fee
    im = opening_requirement(profile, p)
    check_mm = mm if account_mm is None else account_mm
    ratio = float(margin_ratio(maintenance=check_mm, equity=equity))
    f_open, f_close = terms.order_rates
    net = float(net_pnl(side=s, qty=q_, entry=ep, exit_price=terms.xmarks[i], open_rate=f_open, close_rate=f_close,
                        funding_paid=p.funding_paid))
    q = PositionQuote(
        position=p, mark=mark, notional=q_ * terms.xmarks[i], entry_notional=q_ * ep,
        initial_margin=im, maintenance_margin=mm, margin=margin, equity=equity, unrealized_pnl=upnl,
        margin_ratio=ratio, liquidation_price=leg.price(lp_x), bankruptcy_price=leg.price(bp_x),
        liquidatable_now=bool(equity < check_mm), tier=TierInfo.of(tiers, k),
        liquidation_tier=TierInfo.of(tiers, k_lp), close_fee=fee, collateral=collateral,
        bankruptcy_collateral=collateral_bp, account_maintenance=account_mm, settle_asset=contract.settle,
        contract_type=contract.type, contract_size=contract.size, shares_lp_with=shares,
        open_fee=float(trade_fee(qty=q_, price=ep, rate=f_open)),
        close_fee_at_mark=float(trade_fee(qty=q_, price=terms.xmarks[i], rate=f_close)),
        funding_paid=p.funding_paid, net_unrealized_pnl=net,
        break_even_price=leg.price(float(break_even_price(side=s, qty=q_, entry=ep, open_rate=f_open,
                                                          close_rate=f_close, funding_paid=p.funding_paid))),
        roe=upnl / im if im > 0 else math.nan, net_roe=net / im if im > 0 else math.nan,
    )
    ex = explain(profile, q, contract.settle)
    if joint is not None:
        ex["liquidation_price"], ex["bankruptcy_price"] = _explain_joint(
            profile, terms, margin, joint[1], i, q.liquidation_price, q.bankruptcy_price, joint[0].tiers)
    object.__setattr__(q, "explain", ex)
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


def explain(profile: Profile, q: PositionQuote, ccy: str | None = None) -> dict[str, str]:
    """The arithmetic behind each headline number, numbers filled in (shown by --explain and the GUI).

    Amounts are in ``ccy`` (default: the quote's settle asset, the coin for an inverse contract,
    whose arithmetic is written in coin: docs/domain.md §7).
    """
    ccy = q.settle_asset if ccy is None else ccy
    if q.contract_type is ContractType.INVERSE:
        return {**_explain_inverse(profile, q, ccy), **_explain_fees(q, ccy)}
    return {**_explain_linear(profile, q, ccy), **_explain_fees(q, ccy)}


def _explain_fees(q: PositionQuote, ccy: str) -> dict[str, str]:
    """Net uPnL and the break-even, written out (docs/domain.md §9.5; an inverse contract in coin)."""
    p = q.position
    n = fmt.num
    s = "+" if p.sign > 0 else "-"
    f_close = q.close_fee_at_mark / q.notional if q.notional > 0 else 0.0
    ex = {"net_unrealized_pnl": (
        f"net uPnL = uPnL - fee to open at entry - fee to close at mark - funding paid = "
        f"{n(q.unrealized_pnl)} - {n(q.open_fee)} - {n(q.close_fee_at_mark)} - {n(q.funding_paid)} = "
        f"{n(q.net_unrealized_pnl)} {ccy}")}
    tail = (f" = {fmt.num(q.break_even_price)}: the exit where PnL after both fees and the funding paid is "
            "zero (MarginLab's; an exchange's \"breakeven\" may leave fees out)")
    if q.contract_type is ContractType.INVERSE:
        cs = p.qty_base * q.contract_size
        ex["break_even_price"] = (
            f"break-even X solves side x C x S x (1/entry - 1/X) = fee to open + close fee rate x C x S / X + "
            f"funding paid: X = C x S x (1 {'+' if p.sign > 0 else '-'} close fee rate) / (C x S / entry "
            f"{'-' if p.sign > 0 else '+'} fee to open {'-' if p.sign > 0 else '+'} funding paid) = {n(cs)} x "
            f"(1 {'+' if p.sign > 0 else '-'} {n(f_close)}) / ({n(cs / p.entry_price)} {'-' if p.sign > 0 else '+'} "
            f"{n(q.open_fee)} {'-' if p.sign > 0 else '+'} {n(q.funding_paid)})" + tail)
    else:
        ex["break_even_price"] = (
            f"break-even = (side x qty x entry + fee to open + funding paid) / (qty x (side - close fee rate)) = "
            f"({s}{n(p.entry_notional)} + {n(q.open_fee)} + {n(q.funding_paid)}) / ({n(p.qty_base)} x ({s}1 - "
            f"{n(f_close)}))" + tail)
    return ex


def _explain_linear(profile: Profile, q: PositionQuote, ccy: str) -> dict[str, str]:
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
    ex["margin_ratio"] = _margin_ratio_text(q)
    wb, wb_word = _collateral_words(profile, q)
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
    return ex


def _margin_ratio_text(q: PositionQuote) -> str:
    """The margin ratio's arithmetic: the position's own, or the cross account's."""
    n = fmt.num
    if q.account_maintenance is None:
        return (f"margin ratio = MM / equity = {n(q.maintenance_margin)} / {n(q.equity)} = "
                f"{fmt.pct(q.margin_ratio)} (100 % liquidates)")
    return (f"margin ratio = MM of all cross positions / account equity = {n(q.account_maintenance)} / "
            f"{n(q.equity)} = {fmt.pct(q.margin_ratio)} (100 % liquidates every cross position)")


def _collateral_words(profile: Profile, q: PositionQuote) -> tuple[float, str]:
    """``WB'`` as the liquidation equation uses it (after any fee to close) and its name."""
    close = profile.rules.fee_model is FeeModel.CLOSE_FEE
    wb = q.collateral - (q.close_fee if close else 0.0)
    word = ("margin" if q.position.mode is MarginMode.ISOLATED
            else "collateral (wallet + others' uPnL - others' MM)")
    return wb, word + (" - fee to close" if close else "")


def _explain_inverse(profile: Profile, q: PositionQuote, ccy: str) -> dict[str, str]:
    """:func:`explain` for an inverse contract: C contracts of size S, amounts in the coin, and the
    closed forms of docs/domain.md §7 (the linear ones in the frame x = S/P, written back in P)."""
    p = q.position
    r = profile.rules
    n = fmt.num
    c, size = p.qty_base, q.contract_size
    value = c * size  # C x S, the position's value in the quote currency
    sgn = "+" if p.sign > 0 else "-"
    t, tl = q.tier, q.liquidation_tier
    ex: dict[str, str] = {}
    ex["notional"] = (f"notional = contracts x size / mark = {n(c)} x {n(size)} / {n(q.mark)} = "
                      f"{n(q.notional)} {ccy}")
    im_base = q.entry_notional / p.leverage
    ex["initial_margin"] = (f"IM = contracts x size / (entry x leverage) = {n(value)} / ({n(p.entry_price)} x "
                            f"{n(p.leverage)}) = {n(im_base)} {ccy}")
    if r.fee_model is FeeModel.CLOSE_FEE:
        ex["initial_margin"] += (f"; + fee to close at EP / (1 {sgn} 1/L): {n(q.initial_margin - im_base)} -> "
                                 f"{n(q.initial_margin)} {ccy}")
    entry_basis = r.mm_basis is MMBasis.ENTRY
    basis_word = "entry" if entry_basis else "mark"
    mmr_word = "MMR" + (" + taker fee" if r.fee_model is FeeModel.TAKER_IN_MMR else "")
    mm_text = (f"MM = {mmr_word} x contracts x size / {basis_word} - maintenance amount = {n(t.mmr)} x "
               f"{n(value)} / {n(p.entry_price if entry_basis else q.mark)} - {n(t.maintenance_amount)}")
    if r.fee_model is FeeModel.CLOSE_FEE:
        mm_text += f" + fee to close {n(q.close_fee)}"
    ex["maintenance_margin"] = (f"{mm_text} = {n(q.maintenance_margin)} {ccy} (tier {t.index + 1}, notional "
                                f"{n(t.floor)}-{n(t.cap)} {ccy})")
    ex["unrealized_pnl"] = (f"uPnL = side x contracts x size x (1/entry - 1/mark) = {sgn}1 x {n(value)} x "
                            f"(1/{n(p.entry_price)} - 1/{n(q.mark)}) = {n(q.unrealized_pnl)} {ccy}")
    ex["margin_ratio"] = _margin_ratio_text(q)
    wb, wb_word = _collateral_words(profile, q)
    coin_value = value / p.entry_price  # C x S / EP, the value at entry in coin
    if not entry_basis:
        lp_text = (f"LP solves {wb_word} + side x contracts x size x (1/entry - 1/P) = MMR x contracts x size / P "
                   f"- maintenance amount: LP = contracts x size x (1 + side x MMR) / (contracts x size / entry + "
                   f"side x (WB + amount)) = {n(value)} x (1 {sgn} {n(tl.mmr)}) / ({n(coin_value)} {sgn} ({n(wb)} + "
                   f"{n(tl.maintenance_amount)})) = {fmt.num(q.liquidation_price)}")
        if r.tier_at_liquidation and math.isfinite(q.liquidation_price):
            lp_text += (f" (tier {tl.index + 1} chosen at the liquidation notional "
                        f"{n(value / q.liquidation_price)} {ccy})")
    else:
        mm_entry = tl.mmr * coin_value - tl.maintenance_amount
        lp_text = (f"LP = contracts x size / (contracts x size / entry + side x ({wb_word} - MM)) = {n(value)} / "
                   f"({n(coin_value)} {sgn} ({n(wb)} - {n(mm_entry)})) = {fmt.num(q.liquidation_price)}")
    if not math.isfinite(q.liquidation_price):
        lp_text += " -> no liquidation price: the collateral covers the whole position (shown as --)"
    ex["liquidation_price"] = lp_text
    if p.mode is MarginMode.ISOLATED:
        coll_word, coll_nums = "margin", n(q.bankruptcy_collateral - q.close_fee)
    else:
        coll_word = "(wallet + others' uPnL" + (" - fee to close)" if r.fee_model is FeeModel.CLOSE_FEE else ")")
        coll_nums = n(q.bankruptcy_collateral - q.close_fee)
    if r.fee_model is FeeModel.CLOSE_FEE and p.mode is MarginMode.ISOLATED:
        ex["bankruptcy_price"] = (f"BP = contracts x size x (1 + side x taker fee) / (contracts x size / entry + "
                                  f"side x margin) = {n(value)} x (1 {sgn} {n(r.taker_fee)}) / ({n(coin_value)} {sgn} "
                                  f"{n(q.bankruptcy_collateral)}) = {fmt.num(q.bankruptcy_price)}: equity after the "
                                  "fee to close is zero")
    else:
        ex["bankruptcy_price"] = (f"BP = contracts x size / (contracts x size / entry + side x {coll_word}) = "
                                  f"{n(value)} / ({n(coin_value)} {sgn} {coll_nums}) = {fmt.num(q.bankruptcy_price)}: "
                                  "equity is zero there")
    if not math.isfinite(q.bankruptcy_price):
        ex["bankruptcy_price"] += " -> none: the collateral covers the whole position (shown as --)"
    return ex


def _explain_joint(profile: Profile, terms: _Terms, wallet: float, group: tuple[int, ...], i: int,
                   lp: float, bp: float, tiers_at_lp: tuple[int, ...]) -> tuple[str, str]:
    """The liquidation and bankruptcy price of one symbol's cross legs solved together (hedge mode),
    numbers filled in, in the linear frame (for an inverse contract: in size/P, mapped back)."""
    r = profile.rules
    legs = [terms.legs[j] for j in group]
    inverse = legs[0].contract.is_inverse
    tiers = profile.effective_tiers(legs[0].contract.symbol)
    w, w_bp = terms.collateral(wallet, i)
    fees = math.fsum(terms.fee[j] for j in group)
    w, w_bp = w - fees, w_bp - fees
    sqe = math.fsum(leg.s * leg.q * leg.ep for leg in legs)
    net = math.fsum(leg.s * leg.q for leg in legs)
    n = fmt.num
    names = ", ".join(f"#{j}" for j in group)
    price = "size/P" if inverse else "P"
    qty = "contracts" if inverse else "qty"
    entry = "size/entry" if inverse else "entry"
    lead = (f"the cross legs {names} of {legs[0].contract.symbol} share one liquidation price (hedge mode; "
            f"docs/domain.md §8): WB' = wallet + other symbols' uPnL - their MM"
            f"{' - fees to close' if fees else ''} = {n(w)}; ")
    if r.mm_basis is MMBasis.MARK:
        cums = math.fsum(float(tiers.cum[k]) for k in tiers_at_lp)
        slope = math.fsum(float(tiers.mmr[k]) * leg.q for k, leg in zip(tiers_at_lp, legs, strict=True))
        x = (w + cums - sqe) / (slope - net) if slope != net else math.nan
        body = (f"{price} solves WB' + sum side x {qty} x ({price} - {entry}) = sum (MMR x {qty} x {price} - "
                f"amount): {price} = (WB' + sum amount - sum side x {qty} x {entry}) / (sum MMR x {qty} - sum side "
                f"x {qty}) = ({n(w)} + {n(cums)} - {x_text(sqe)}) / ({x_text(slope)} - {x_text(net)}) = {x_text(x)}")
    else:
        mms = math.fsum(max(float(tiers.mmr[k]) * leg.q * leg.ep - float(tiers.cum[k]), 0.0)
                        for k, leg in zip(tiers_at_lp, legs, strict=True))
        x = (sqe - w + mms) / net if net else math.nan
        body = (f"{price} = (sum side x {qty} x {entry} - WB' + sum MM) / sum side x {qty} = ({x_text(sqe)} - "
                f"{n(w)} + {n(mms)}) / {x_text(net)} = {x_text(x)}")
    side = "below" if (net > 0) != inverse else "above"
    size = legs[0].contract.size
    lp_text = (lead + body + (f" -> LP = {n(size)}/{x_text(x)} = {n(lp)}" if inverse else "")
               + f" (tiers {', '.join(str(k + 1) for k in tiers_at_lp)} at that price; the root on the side the "
                 f"net position loses, {side} the mark)")
    if not math.isfinite(lp):
        lp_text += " -> no liquidation price on the losing side (shown as --)"
    bp_x = (sqe - w_bp) / net if net else math.nan
    bp_text = (f"BP: wallet + other symbols' uPnL{' - fees to close' if fees else ''} + sum side x {qty} x "
               f"({price} - {entry}) = 0: {price} = (sum side x {qty} x {entry} - {n(w_bp)}) / sum side x {qty} = "
               f"({x_text(sqe)} - {n(w_bp)}) / {x_text(net)} = {x_text(bp_x)}"
               + (f" -> BP = {n(bp)}" if inverse else "") + ": the account's equity is zero there")
    if not net:
        bp_text = (f"BP: none: the legs {names} are fully hedged (net 0), so the account's equity does not move "
                   "with the price (shown as --)")
    return lp_text, bp_text


def x_text(x: float) -> str:
    """A number in a formula with six significant digits (S/P is about 0.002 for 100 USD of BTC)."""
    return fmt.num(x) if not math.isfinite(x) or abs(x) >= 1 or x == 0 else f"{x:.6g}"


def quote_many(profile: Profile, positions: Sequence[Position], marks: Mapping[str, float] | None = None,
               wallet: float = 0.0, position_mode: PositionMode | str | None = None) -> AccountQuote:
    """Convenience for tests and scripts: an account from a list of positions (``position_mode``
    None: hedge when a symbol holds a long and a short, :func:`core.model.infer_position_mode`)."""
    mode = infer_position_mode(positions) if position_mode is None else PositionMode(position_mode)
    acct = Account(profile_id=profile.id, wallet_usd=wallet, positions=tuple(positions),
                   marks=tuple(sorted((marks or {}).items())), position_mode=mode)
    return quote_account(profile, acct)
