"""One position under every exchange profile, and why the numbers differ.

:func:`compare_position` values one position under each profile (the symbol matched to the
profile's own contract by :func:`core.symbols.resolve_symbol`, the numbers from
:func:`core.quote.quote_position`); a profile that lacks the asset or refuses the size or the
leverage gives a row carrying the reason instead of numbers: ``marginlab-cli compare`` shows these
rows. The GUI's Compare tab shows :func:`compare_in_account`'s: the position inside its account, the
whole account moved to each profile (the same numbers when the position is alone in its account).

:func:`explain_differences` names the rule behind each difference against a reference profile and,
where it can, measures it by a counterfactual: the same position quoted under the other profile
with that one rule (or that tier table) replaced by the reference's. The effects of several rules
need not add up exactly (the tier at the liquidation price depends on all of them); each line
says what that rule alone moves.

Examples
--------
The source FAQ's position, 5 BTC long at 68,000, 10x isolated (docs/domain.md §5). Classic: 61,880
(entry basis, 1 %). Binance, tier 2 (MMR 0.5 %, amount 50) on the mark:
(340,000 - 34,000 - 50) / (5 x (1 - 0.005)) = 305,950 / 4.975 = 61,497.49.

>>> from core.paths import exchanges_dir
>>> from core.profiles import load_profiles
>>> from core.model import Position, Side
>>> ps = load_profiles([exchanges_dir()])
>>> rows = compare_position([ps.get("classic"), ps.get("binance")],
...                         Position("BTCUSDT", Side.LONG, 5, 68_000, 10))
>>> [(r.profile.id, round(r.liquidation_price, 2)) for r in rows]
[('classic', 61880.0), ('binance', 61497.49)]
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from core import fmt
from core.errors import InvalidInputError
from core.margin import qty_from_quote_value, quote_value
from core.model import Account, MarginMode, Position
from core.profiles import Contract, FeeModel, MMBasis, Profile
from core.quote import PositionQuote, TierInfo, quote_account, quote_position
from core.symbols import map_account, resolve_symbol

#: LP differences smaller than this fraction of the price are "the same" in the explanations.
SAME_PRICE_REL: Final = 1e-9


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One profile's view of the position: the quote, or the reason the profile refuses it.

    ``symbol`` is the profile's own contract name ("" when the profile has no contract on the
    asset); ``error_field`` and ``error`` name the refused input and the allowed range. The
    numeric properties are NaN on an error row.
    """

    profile: Profile
    symbol: str
    quote: PositionQuote | None = None
    error_field: str = ""
    error: str = ""
    alone: bool = False  # the position quoted alone on the wallet, not inside its account
    converted: str = ""  # how the position was converted to this contract's type ("" if it was not)
    account: Account | None = None  # compare_in_account: the account as quoted here, the position at ``index``
    index: int = 0

    @property
    def ok(self) -> bool:
        return self.quote is not None

    def _num(self, name: str) -> float:
        return math.nan if self.quote is None else float(getattr(self.quote, name))

    @property
    def initial_margin(self) -> float:
        return self._num("initial_margin")

    @property
    def maintenance_margin(self) -> float:
        return self._num("maintenance_margin")

    @property
    def liquidation_price(self) -> float:
        return self._num("liquidation_price")

    @property
    def bankruptcy_price(self) -> float:
        return self._num("bankruptcy_price")

    @property
    def distance_to_liquidation(self) -> float:
        return math.nan if self.quote is None else self.quote.distance_to_liquidation

    @property
    def tier(self) -> TierInfo | None:
        return None if self.quote is None else self.quote.tier

    @property
    def tick_size(self) -> float:
        return self.profile.contract(self.symbol).tick_size if self.symbol else 0.01

    @property
    def quote_currency(self) -> str:
        return self.profile.contract(self.symbol).quote if self.symbol else ""

    @property
    def settle_asset(self) -> str:
        """The asset this row's margins are in (the contract's settle asset)."""
        return self.profile.contract(self.symbol).settle if self.symbol else ""


def convert_amount(amount: float, source: Contract | None, target: Contract, price: float) -> float:
    """An amount in ``source``'s settle asset as ``target``'s, at ``price`` (a linear contract's
    quote currency is taken as worth one of the inverse contract's quote currency: USDT = USD).

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> t = TierTable.single(mmr=0.004, max_leverage=125)
    >>> coinm = Contract("BTCUSD_PERP", t, quote="USD", type=ContractType.INVERSE, size=100, settle="BTC")
    >>> convert_amount(34_000.0, None, coinm, 68_000.0)
    0.5
    """
    was_inverse = source is not None and source.is_inverse
    if was_inverse == target.is_inverse:
        return amount
    return amount * price if was_inverse else amount / price


def convert_position(position: Position, source: Contract | None, target: Contract) -> tuple[Position, str]:
    """``position`` (sized for ``source``; None: linear, base units, amounts in the quote currency)
    restated for ``target`` by its notional at entry, and a sentence saying how; unchanged (and "")
    where both are linear, or both inverse with contracts of one size.

    The quote value ``qty x entry`` (linear) or ``contracts x size`` (inverse) is kept
    (:func:`core.margin.quote_value`, :func:`core.margin.qty_from_quote_value`); an isolated margin
    is converted at the entry price (:func:`convert_amount`). Entry, leverage and mode are kept.

    Examples
    --------
    The source FAQ's 5 BTC at 68,000 on Binance COIN-M: 340,000 USD = 3,400 contracts of 100 USD.

    >>> from core.contracts import ContractType
    >>> from core.tiers import TierTable
    >>> t = TierTable.single(mmr=0.004, max_leverage=125)
    >>> coinm = Contract("BTCUSD_PERP", t, quote="USD", type=ContractType.INVERSE, size=100, settle="BTC")
    >>> p, how = convert_position(Position("BTCUSD_PERP", "long", 5, 68_000, 10), None, coinm)
    >>> p.qty_base, how
    (3400.0, 'converted by notional at entry: 5 units x 68,000 = 340,000 USD = 3,400 contracts of 100 USD; amounts in BTC')

    Between inverse contracts of other sizes the USD value is kept: 1,000 BTCUSD_PERP of 100 USD are
    100,000 XBTUSD of 1 USD (the margin, in BTC, is the same).

    >>> xbt = Contract("XBTUSD", t, quote="USD", type=ContractType.INVERSE, size=1, settle="BTC")
    >>> convert_position(Position("BTCUSD_PERP", "long", 1_000, 60_000, 5), coinm, xbt)[0].qty_base
    100000.0
    """
    was_inverse = source is not None and source.is_inverse
    if was_inverse == target.is_inverse and not (was_inverse and source is not None and source.size != target.size):
        return position, ""  # the same units (an inverse contract of another size is not: 100 USD vs 1 USD)
    value = (float(quote_value(source, position.qty_base, position.entry_price)) if source is not None
             else position.qty_base * position.entry_price)
    qty = float(qty_from_quote_value(target, value, position.entry_price))
    margin = (None if position.margin_usd is None else
              convert_amount(position.margin_usd, source, target, position.entry_price))
    n = fmt.num
    held = (f"{n(position.qty_base)} contracts of {n(source.size)} {source.quote}" if was_inverse and source
            else f"{n(position.qty_base)} units x {n(position.entry_price)}")
    now = (f"{n(qty)} contracts of {n(target.size)} {target.quote}" if target.is_inverse
           else f"{n(qty)} units at {n(position.entry_price)}")
    return (position.with_(qty_base=qty, margin_usd=margin),
            f"converted by notional at entry: {held} = {n(value)} {target.quote} = {now}; amounts in {target.settle}")


def compare_position(profiles: Iterable[Profile], position: Position, *, mark: float | None = None,
                     wallet: float | None = None, source: Contract | None = None) -> tuple[ComparisonRow, ...]:
    """Quote ``position`` alone under every profile, in the order given.

    Parameters
    ----------
    profiles : the profiles to compare (a :class:`~core.profiles.ProfileSet` or any iterable).
    position : the position; its ``symbol`` may be any exchange's spelling (BTCUSDT, BTC, XBTUSD).
    mark : mark price (default: the entry), as ``marginlab-cli compare --mark``.
    wallet : cross collateral for a cross position (default: its opening requirement), as
        ``--wallet``. Ignored for an isolated position, whose margin is ``position.margin_usd`` or
        the profile's opening requirement.
    source : the contract the position's size and amounts are written for; None: a linear one
        (base units, amounts in the quote currency). A profile whose contract is of the other type
        (linear vs inverse) gets the position converted by its notional at entry
        (:func:`convert_position`; the row's ``converted`` says how).

    Returns
    -------
    One :class:`ComparisonRow` per profile. A profile without a contract on the asset, or one
    that refuses the size or the leverage (:func:`core.quote.validate_position`), gives a row
    with ``error_field``/``error`` and no quote; nothing is raised for those.
    """
    rows: list[ComparisonRow] = []
    for profile in profiles:
        try:
            symbol = resolve_symbol(profile, position.symbol)
        except InvalidInputError as exc:
            rows.append(ComparisonRow(profile, "", None, exc.field, exc.reason))
            continue
        target = profile.contract(symbol)
        mine, how = convert_position(position.with_(symbol=symbol), source, target)
        w = None if wallet is None else convert_amount(wallet, source, target, position.entry_price)
        try:
            q = quote_position(profile, mine, mark=mark, wallet=w)
        except InvalidInputError as exc:
            rows.append(ComparisonRow(profile, symbol, None, exc.field, exc.reason, converted=how))
            continue
        if how:
            rows.append(ComparisonRow(profile, symbol, q, converted=how))
            continue
        rows.append(ComparisonRow(profile, symbol, q))
    return tuple(rows)


def compare_in_account(profiles: Iterable[Profile], account: Account, index: int) -> tuple[ComparisonRow, ...]:
    """``account.positions[index]`` as it is in its account, under every profile, in the order given.

    The whole account moves to each profile (:func:`convert_account`: every position and mark on
    that profile's own contracts, converted by notional at entry where the contract is of the other
    type, linear or inverse) and is quoted by :func:`core.quote.quote_account`, so a cross position's
    row counts the other positions exactly as the results do. A profile that lacks a contract of the
    account, or refuses one of its positions (or their settle assets differ), gives a row with the
    reason.

    Examples
    --------
    Hyperliquid, cross, wallet 20,650: BTC 0.5 long at 95,000 beside an ETH 10 short at 3,300
    marked at 3,600. In its account the BTC position's LP is 61,913.92 (the results' number);
    alone on the same wallet it would be 54,380.

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Account, Position, Side
    >>> ps = load_profiles([exchanges_dir()])
    >>> acct = Account("hyperliquid", 20_650, (Position("BTC", Side.LONG, 0.5, 95_000, 20, "cross"),
    ...                Position("ETH", Side.SHORT, 10, 3_300, 20, "cross")), {"ETH": 3_600})
    >>> [round(r.liquidation_price, 2) for r in compare_in_account([ps.get("hyperliquid")], acct, 0)]
    [61913.92]
    """
    rows: list[ComparisonRow] = []
    position = account.positions[index]
    profiles = list(profiles)
    source = next((p for p in profiles if p.id == account.profile_id), None)
    for profile in profiles:
        try:
            symbol = resolve_symbol(profile, position.symbol)
        except InvalidInputError as exc:
            rows.append(ComparisonRow(profile, "", None, exc.field, exc.reason))
            continue
        how = ""
        try:
            moved, how = convert_account(account, source, profile, index)
            q = quote_account(profile, moved).positions[index]
        except InvalidInputError as exc:
            rows.append(ComparisonRow(profile, symbol, None, exc.field, exc.reason, converted=how))
            continue
        rows.append(ComparisonRow(profile, symbol, q, converted=how, account=moved, index=index))
    return tuple(rows)


def convert_account(account: Account, source: Profile | None, target: Profile, index: int) -> tuple[Account, str]:
    """``account`` on ``target``'s contracts (:func:`core.symbols.map_account`), every position on a
    contract of the other type converted by its notional at entry (:func:`convert_position`) and the
    wallet at the entry price of position ``index``; and a sentence saying how ("" when nothing was
    converted). ``source``: the profile the account is on now (None: its contracts are linear)."""
    moved = map_account(account, target)
    notes = []
    positions = []
    for old, new in zip(account.positions, moved.positions, strict=True):
        was = source.contract(old.symbol) if source is not None and old.symbol in source.contracts else None
        converted, how = convert_position(new, was, target.contract(new.symbol))
        positions.append(converted)
        if how:
            notes.append(how)
    if not notes:
        return moved, ""
    p = account.positions[index]
    was = source.contract(p.symbol) if source is not None and p.symbol in source.contracts else None
    now = target.contract(moved.positions[index].symbol)
    wallet = convert_amount(account.wallet_usd, was, now, p.entry_price)
    if wallet != account.wallet_usd:
        notes.append(f"wallet {fmt.num(account.wallet_usd)} {was.settle if was else 'USDT'} = {fmt.num(wallet)} "
                     f"{now.settle} at {fmt.num(p.entry_price)}")
    return moved.with_(positions=tuple(positions), wallet_usd=wallet), "; ".join(notes)


# ---------------------------------------------------------------------------------------------
# Explanations


def _requote(row: ComparisonRow, profile: Profile) -> PositionQuote | None:
    """``row``'s position and market under a modified profile (inside its account for a row of
    :func:`compare_in_account`, as the row was quoted); None when that profile refuses it."""
    q = row.quote
    assert q is not None
    wallet = q.margin if q.position.mode is MarginMode.CROSS else None
    try:
        if row.account is not None:
            return quote_account(profile, row.account).positions[row.index]
        return quote_position(profile, q.position, mark=q.mark, wallet=wallet)
    except InvalidInputError:
        return None


def _lp_move(before: float, after: float, tick: float) -> str:
    """"LP 61,510.05 -> 61,880.00 (+369.95)" with "--" for none."""
    if math.isfinite(before) and math.isfinite(after):
        return f"{fmt.price(before, tick)} -> {fmt.price(after, tick)} ({after - before:+,.2f})"
    return f"{fmt.price(before, tick)} -> {fmt.price(after, tick)}"


def _tier_words(t: TierInfo, profile: Profile) -> str:
    how = (f" = 1/(2 x {t.max_leverage:g}x max leverage)" if profile.rules.mmr_from_max_leverage else "")
    amount = f", maintenance amount {fmt.num(t.maintenance_amount)}" if t.maintenance_amount else ""
    return f"MMR {fmt.pct(t.mmr, 3)}{how}{amount} (tier {t.index + 1})"


def _counterfactual(row: ComparisonRow, ref: ComparisonRow, what: str, changed: Profile, *,
                    unchanged: str = "") -> str:
    """" -> with <ref>'s <what> instead, LP would be X" (empty when that profile refuses it)."""
    alt = _requote(row, changed)
    if alt is None or row.quote is None:
        return ""
    tick = row.tick_size
    before, after = row.quote.liquidation_price, alt.liquidation_price
    if (math.isfinite(before) and math.isfinite(after)
            and abs(after - before) <= SAME_PRICE_REL * max(abs(before), 1.0)) or (
            math.isnan(before) and math.isnan(after)):
        return f"; with {ref.profile.id}'s {what} instead, {row.profile.id}'s LP would not move{unchanged}"
    return (f"; with {ref.profile.id}'s {what} instead, {row.profile.id}'s LP would move "
            f"{_lp_move(before, after, tick)}")


def _with_rules(profile: Profile, **changes: object) -> Profile:
    return dataclasses.replace(profile, rules=dataclasses.replace(profile.rules, **changes))  # type: ignore[arg-type]


def _with_tiers_of(profile: Profile, symbol: str, ref: ComparisonRow) -> Profile:
    """``profile`` with the reference's tier table on ``symbol`` (rates as the reference derives them)."""
    contract = dataclasses.replace(profile.contract(symbol), tiers=ref.profile.contract(ref.symbol).tiers)
    return dataclasses.replace(profile.with_contract(contract),
                               rules=dataclasses.replace(profile.rules,
                                                         mmr_from_max_leverage=ref.profile.rules.mmr_from_max_leverage))


def _pair_lines(row: ComparisonRow, ref: ComparisonRow) -> list[str]:
    q, r = row.quote, ref.quote
    assert q is not None and r is not None
    a, b = row.profile, ref.profile
    ra, rb = a.rules, b.rules
    tick = row.tick_size
    out: list[str] = []
    lp_a, lp_b = q.liquidation_price, r.liquidation_price
    if math.isfinite(lp_a) and math.isfinite(lp_b):
        d = lp_a - lp_b
        if abs(d) <= SAME_PRICE_REL * max(abs(lp_b), 1.0):
            head = f"{a.id}: LP {fmt.price(lp_a, tick)}, the same as {b.id}"
        else:
            closer = (d * q.position.sign) > 0  # a long's LP higher / a short's lower: nearer the mark
            head = (f"{a.id}: LP {fmt.price(lp_a, tick)} vs {b.id} {fmt.price(lp_b, ref.tick_size)}: "
                    f"{'higher' if d > 0 else 'lower'} by {fmt.money(abs(d))} "
                    f"({'closer to' if closer else 'further from'} the mark)")
    else:
        head = f"{a.id}: LP {fmt.price(lp_a, tick)} vs {b.id} {fmt.price(lp_b, ref.tick_size)}"
        if not math.isfinite(lp_a):
            head += f" ({a.id}: no liquidation price, the collateral covers the whole position)"
    out.append(head)
    ca, cb = a.contract(row.symbol), b.contract(ref.symbol)
    if ca.type is not cb.type:
        # tables and margins are in other units: only the contract itself is named
        inv, lin = (a, b) if ca.is_inverse else (b, a)
        coin = (ca if ca.is_inverse else cb).settle
        out.append(f"{a.id}: contract type {ca.type.value} vs {b.id} {cb.type.value}: {inv.id} settles in {coin}, "
                   f"so a long's loss per dollar of price grows as the price falls (PnL = side x contracts x "
                   f"size x (1/entry - 1/P)) and its tiers are by notional in {coin}; {lin.id}'s PnL is linear "
                   f"in the price (docs/domain.md §7)")
        return out

    coin = ca.settle  # both contracts are of one type here: amounts in the row's settle asset
    # 1. The rates: different tier tables, or MMR derived from the max leverage.
    t_a, t_b = q.liquidation_tier, r.liquidation_tier
    tables_differ = (a.contract(row.symbol).tiers is not b.contract(ref.symbol).tiers
                     and (t_a.mmr != t_b.mmr or t_a.maintenance_amount != t_b.maintenance_amount
                          or t_a.max_leverage != t_b.max_leverage))
    if tables_differ or ra.mmr_from_max_leverage != rb.mmr_from_max_leverage:
        rule = ("mmr_from_max_leverage: " if ra.mmr_from_max_leverage or rb.mmr_from_max_leverage else
                "different tier tables: ")
        line = (f"{a.id}: {rule}{_tier_words(t_a, a)} vs {b.id} {_tier_words(t_b, b)} "
                f"at the liquidation notional")
        out.append(line + _counterfactual(row, ref, "tier table", _with_tiers_of(a, row.symbol, ref)))

    # 2. The maintenance amount of the tier used at the liquidation price.
    if t_a.maintenance_amount != t_b.maintenance_amount:
        more, less = (a.id, b.id) if t_a.maintenance_amount > t_b.maintenance_amount else (b.id, a.id)
        out.append(f"{a.id}: maintenance amount {fmt.amount_text(t_a.maintenance_amount, coin)} (tier {t_a.index + 1}) vs "
                   f"{b.id} {fmt.amount_text(t_b.maintenance_amount, coin)} (tier {t_b.index + 1}), deducted from MM "
                   f"(MM = MMR x notional - amount, which keeps MM continuous across tiers): {more}'s "
                   f"smaller MM lets the price go further than {less}'s at the same rate")

    # 3. Entry vs mark basis.
    if ra.mm_basis is not rb.mm_basis:
        if ra.mm_basis is MMBasis.ENTRY:
            what = (f"{a.id}: mm_basis entry: MM fixed on the entry notional "
                    f"({fmt.amount_text(q.maintenance_margin, coin)} at any price) vs {b.id} mm_basis mark: MM on the "
                    f"mark notional, {'smaller' if q.position.sign > 0 else 'larger'} at a "
                    f"{'long' if q.position.sign > 0 else 'short'}'s liquidation price")
        else:
            what = (f"{a.id}: mm_basis mark: MM moves with the mark notional vs {b.id} mm_basis entry: "
                    f"MM fixed on the entry notional ({fmt.amount_text(r.maintenance_margin, coin)})")
        out.append(what + _counterfactual(row, ref, "mm_basis", _with_rules(a, mm_basis=rb.mm_basis)))

    # 4. Fees.
    if ra.fee_model is not rb.fee_model or (ra.fee_model is not FeeModel.NONE and ra.taker_fee != rb.taker_fee):
        if ra.fee_model is FeeModel.CLOSE_FEE:
            what = (f"{a.id}: fee_model close_fee: the fee to close at the bankruptcy price, taker "
                    f"{fmt.pct(ra.taker_fee, 3)} x qty x BP = {fmt.amount_text(q.close_fee, coin)}, is part of IM "
                    f"({fmt.amount_text(q.initial_margin, coin)}) and MM ({fmt.amount_text(q.maintenance_margin, coin)})")
        elif ra.fee_model is FeeModel.TAKER_IN_MMR:
            what = (f"{a.id}: fee_model taker_in_mmr: every MMR is raised by the taker fee "
                    f"{fmt.pct(ra.taker_fee, 3)}")
        else:
            what = f"{a.id}: fee_model none: no fee term in IM or MM"
        what += f" vs {b.id} fee_model {rb.fee_model.value}"
        offset = (" (the fee reserved in the margin at the opening bankruptcy price offsets the fee in MM)"
                  if ra.fee_model is FeeModel.CLOSE_FEE or rb.fee_model is FeeModel.CLOSE_FEE else "")
        out.append(what + _counterfactual(row, ref, "fee model",
                                          _with_rules(a, fee_model=rb.fee_model, taker_fee=rb.taker_fee),
                                          unchanged=offset))

    # 5. Which tier the liquidation price is computed with.
    if ra.tier_at_liquidation != rb.tier_at_liquidation or t_a.index != q.tier.index:
        if ra.tier_at_liquidation:
            what = (f"{a.id}: tier_at_liquidation: the tier is re-chosen at the liquidation notional "
                    f"(tier {t_a.index + 1} at LP, tier {q.tier.index + 1} at entry)")
        else:
            what = f"{a.id}: the tier is the one of the entry notional (tier {q.tier.index + 1}), kept at LP"
        if ra.tier_at_liquidation != rb.tier_at_liquidation:
            what += f" vs {b.id} {'at LP' if rb.tier_at_liquidation else 'at entry'}"
            what += _counterfactual(row, ref, "tier choice",
                                    _with_rules(a, tier_at_liquidation=rb.tier_at_liquidation),
                                    unchanged=" (the tier at the liquidation notional is the entry one here)")
        out.append(what)

    # 6. IM and BP follow from the fee model and the margin; say so when they differ.
    if abs(q.initial_margin - r.initial_margin) > 1e-9 * max(r.initial_margin, 1.0):
        out.append(f"{a.id}: IM {fmt.amount_text(q.initial_margin, coin)} vs {b.id} {fmt.amount_text(r.initial_margin, coin)}: "
                   f"the same qty x entry / leverage, {'plus' if q.initial_margin > r.initial_margin else 'minus'} "
                   f"the fee to close held with the margin")
    bp_a, bp_b = q.bankruptcy_price, r.bankruptcy_price
    if math.isfinite(bp_a) and math.isfinite(bp_b) and abs(bp_a - bp_b) > SAME_PRICE_REL * bp_b:
        out.append(f"{a.id}: BP {fmt.price(bp_a, tick)} vs {b.id} {fmt.price(bp_b, ref.tick_size)}: "
                   "BP = where the margin is used up; it moves only with the margin and the fee to close")
    return out


def explain_differences(rows: Sequence[ComparisonRow], *, reference: str | None = None) -> list[str]:
    """Sentences naming the rule behind each difference from a reference profile.

    Parameters
    ----------
    rows : the output of :func:`compare_position` or :func:`compare_in_account` (a row of the latter
        is measured inside its account: the whole account re-quoted under the changed profile).
    reference : the profile id to compare against (default: the first row with a quote).

    Returns
    -------
    For every other profile with a quote: a headline (LP vs the reference's, how much higher or
    lower, closer to or further from the mark), then one line per rule that differs:
    ``mmr_from_max_leverage`` / different tier tables, the maintenance amount, ``mm_basis``,
    ``fee_model`` and ``tier_at_liquidation``. Where possible a line says how far that rule alone
    moves the liquidation price (the position re-quoted with the reference's rule). A refused
    profile gives one line with its reason.

    Examples
    --------
    Hyperliquid against Binance for 5 BTC long at 68,000, 10x: Hyperliquid's MMR is
    1/(2 x 40) = 1.25 % against Binance's 0.5 % (less an amount of 50) at that notional, so its LP
    is higher: 306,000 / (5 x 0.9875) = 61,974.68 (shown to Hyperliquid's 0.1 tick) against
    305,950 / 4.975 = 61,497.49, a difference of 477.20:

    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> from core.model import Position, Side
    >>> ps = load_profiles([exchanges_dir()])
    >>> rows = compare_position([ps.get("binance"), ps.get("hyperliquid")],
    ...                         Position("BTCUSDT", Side.LONG, 5, 68_000, 10))
    >>> explain_differences(rows)[0]
    'hyperliquid: LP 61,974.7 vs binance 61,497.5: higher by 477.20 (closer to the mark)'
    """
    ok = [r for r in rows if r.ok]
    if reference is not None:
        ref = next((r for r in ok if r.profile.id == reference), None)
    else:
        ref = ok[0] if ok else None
    out: list[str] = []
    for row in rows:
        if not row.ok:
            where = f" ({row.error_field})" if row.error_field and row.error_field != "symbol" else ""
            out.append(f"{row.profile.id}: not available{where}: {row.error}")
            continue
        if ref is None or row is ref:
            continue
        out.extend(_pair_lines(row, ref))
    return out
