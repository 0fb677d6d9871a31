"""Check MarginLab's numbers against the exchange's own: an imported account, position by position.

:func:`account_from_import` turns what a response holds (:mod:`core.positions_import`) into a
frozen :class:`~core.model.Account` on the exchange's profile, keeping the exchange's figures beside
it (:class:`core.reported.AuditRecord`). :func:`audit_account` quotes that account with the one
engine (:func:`core.quote.quote_account`) and gives each position a :class:`Verdict`:

* ``match``: MarginLab's liquidation price is within one tick of the exchange's (or neither has one);
* otherwise the **first** rule or data difference that explains the gap, each one tested by
  quoting the account again with that difference removed, and claimed only when the result lands
  within one tick or 1 bp of the exchange's price:

  ``fee``       a fee the profile's rules leave out (the taker fee in the maintenance rate, the fee
                to close at the bankruptcy price) or put in;
  ``table``     the response's own tier figures (Hyperliquid's ``maxLeverage``, a reported
                maintenance margin) differ from the profile's dated table (its ``as_of``); or the
                exchange's prices imply one maintenance rate for every position of the account;
  ``hedge``     both legs of a symbol in cross margin: the exchange gives them one shared
                liquidation price, MarginLab each leg its own (docs/domain.md §8; not yet modelled);
  ``unexplained`` none of these: the difference, and the maintenance rate the exchange's price implies;

* or why MarginLab cannot quote it: ``unknown_symbol`` (no contract in the profile), ``inverse``
  (a coin-margined contract, docs/domain.md §7), ``missing_tier`` (a notional beyond the profile's
  last tier), ``no_wallet`` (a cross position whose wallet the files do not give: the wallet its
  price implies is named), ``no_profile`` (no profile of that exchange is loaded).

The difference is ``ours - exchange``, in price and in basis points of the exchange's price.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from core import fmt
from core.errors import InvalidInputError
from core.model import Account, MarginMode, Position, PositionMode, Side
from core.positions_import import ImportedAccount, ImportedPosition
from core.profiles import Contract, FeeModel, Profile, ProfileSet
from core.quote import (
    AccountQuote,
    PositionQuote,
    entry_notional,
    leverage_limit,
    quote_account,
    validate_position,
)
from core.reported import AuditRecord, LeftOut, Reported, ReportedEntry
from core.roots import bracketed_root
from core.symbols import resolve_symbol
from core.tiers import TierTable

#: A difference this many basis points of the exchange's price or less is explained (beside one tick).
EXPLAINED_BP: Final = 1.0
#: Verdict codes that say the position was quoted and compared.
COMPARED: Final = frozenset({"match", "table", "fee", "hedge", "unexplained"})
#: Verdict codes that say MarginLab could not quote the position as the exchange holds it.
NOT_MODELLED: Final = frozenset({"unknown_symbol", "inverse", "missing_tier", "no_wallet", "no_profile"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why MarginLab's number is or is not the exchange's.

    ``explained_lp`` is MarginLab's liquidation price with the named difference removed (NaN where
    none is computed), ``explained_bp`` its distance from the exchange's in basis points.
    """

    code: str
    text: str
    explained_lp: float = math.nan
    explained_bp: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "explained_liquidation_price": _json(self.explained_lp),
                "explained_difference_bp": _json(self.explained_bp)}


@dataclass(frozen=True, slots=True)
class PositionAudit:
    """One position: what the exchange reported, MarginLab's quote (None where it cannot quote), the verdict.

    ``index`` is the position's index in the audited account (None for a position left out of it).
    """

    symbol: str  # the exchange's name
    side: str
    qty: float
    entry: float
    reported: Reported
    verdict: Verdict
    quote: PositionQuote | None = None
    index: int | None = None
    tick: float = 0.01

    @property
    def ours(self) -> float:
        return math.nan if self.quote is None else self.quote.liquidation_price

    @property
    def difference(self) -> float:
        """``ours - exchange`` (NaN unless both have a price)."""
        theirs = self.reported.liquidation_price
        return self.ours - theirs if theirs is not None and math.isfinite(self.ours) else math.nan

    @property
    def difference_bp(self) -> float:
        theirs = self.reported.liquidation_price
        return self.difference / theirs * 1e4 if theirs else math.nan

    def as_dict(self) -> dict[str, Any]:
        """The CLI's JSON contract for one position: ``exchange``, ``ours`` and ``difference``."""
        q = self.quote
        p = q.position if q is not None else None
        r = self.reported
        ours: dict[str, Any] | None = None
        if q is not None and p is not None:
            ours = {"symbol": p.symbol, "leverage": p.leverage, "margin": q.margin,
                    "liquidation_price": _json(q.liquidation_price),
                    "maintenance_margin": q.maintenance_margin, "bankruptcy_price": _json(q.bankruptcy_price),
                    "tier": q.liquidation_tier.as_dict()}
        mm_diff = (q.maintenance_margin - r.maintenance_margin
                   if q is not None and r.maintenance_margin is not None else None)
        return {
            "symbol": self.symbol, "side": self.side, "qty": self.qty, "entry": self.entry,
            "mark": None if q is None else q.mark, "mode": None if p is None else p.mode.value,
            "exchange": r.as_dict(), "ours": ours,
            "difference": {"liquidation_price": _json(self.difference), "bp": _json(self.difference_bp),
                           "maintenance_margin": mm_diff},
            "verdict": self.verdict.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class AccountAudit:
    """Every position of an imported account, audited under one profile."""

    profile: Profile | None
    account: Account
    record: AuditRecord
    positions: tuple[PositionAudit, ...]
    quote: AccountQuote | None = None
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many positions matched, were explained, were not modelled or stay unexplained."""
        codes = [p.verdict.code for p in self.positions]
        return {"positions": len(codes), "match": codes.count("match"),
                "explained": sum(c in ("table", "fee", "hedge") for c in codes),
                "explained_within_1bp": sum(c == "match" or (c in ("table", "fee")) for c in codes),
                "unexplained": codes.count("unexplained"),
                "not_modelled": sum(c in NOT_MODELLED for c in codes)}

    def as_dict(self) -> dict[str, Any]:
        p = self.profile
        out: dict[str, Any] = {
            "format": self.record.format, "source": self.record.source, "time_ms": self.record.time_ms,
            "profile": None if p is None else {"id": p.id, "as_of": p.as_of},
            "wallet": self.account.wallet_usd, "positions": [x.as_dict() for x in self.positions],
            "summary": self.counts(), "notes": list(self.record.notes) + list(self.notes),
        }
        if self.quote is not None:
            out["cross_maintenance_margin"] = {"exchange": self.record.account_maintenance,
                                               "ours": self.quote.cross_maintenance}
        return out


def _json(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# From a response to an account


def choose_profile(profiles: ProfileSet, imported: ImportedAccount, exchange: str | None = None) -> tuple[
        Profile | None, str]:
    """The profile to audit under: ``exchange``, else the response's exchange; (None, why) when not loaded."""
    pid = exchange or imported.exchange
    if pid is None:
        return None, (f"a {imported.format} file does not say which exchange it is from; give --exchange ID "
                      f"(one of {', '.join(profiles.ids)})")
    if pid not in profiles.ids:
        return None, (f"no profile {pid!r} is loaded (profiles: {', '.join(profiles.ids)}); import its tiers "
                      f"with `marginlab-cli profiles import` or give --exchange ID")
    return profiles.get(pid), ""


def _left_out_reason(profile: Profile, ip: ImportedPosition) -> tuple[str, str]:
    """(verdict code, reason) why ``ip`` cannot be in the account; ("", "") when it can."""
    if ip.inverse:
        return "inverse", ("an inverse (coin-margined) contract: margin, PnL and the liquidation equation are in "
                           "the coin, which MarginLab does not model yet (docs/domain.md §7)")
    if ":" in ip.symbol and profile.id == "hyperliquid" and "/" not in ip.symbol:
        dex = ip.symbol.split(":", 1)[0]
        return "unknown_symbol", (f"{ip.symbol} trades on the builder-deployed dex {dex!r} (HIP-3), whose "
                                  f"contracts the {profile.id} profile does not list")
    try:
        resolve_symbol(profile, ip.symbol)
    except InvalidInputError as exc:
        return "unknown_symbol", exc.reason
    return "", ""


def account_from_import(imported: ImportedAccount, profile: Profile) -> tuple[Account, AuditRecord]:
    """The account as imported, on ``profile``, with the exchange's figures beside it.

    Each position's symbol is the profile's own (:func:`core.symbols.resolve_symbol`). A leverage
    above what the profile allows at that notional is lowered to the profile's limit (it moves
    only the initial margin; the exchange's is kept in :attr:`Reported.leverage`). A position the
    profile cannot hold (unknown symbol, inverse, a notional past the last tier) is left out and
    listed with the reason; a cross one's uPnL stays in the wallet, so that the account's equity is
    the exchange's. A cross wallet the files do not give is 0, and the record says so.
    """
    positions: list[Position] = []
    entries: list[ReportedEntry] = []
    left: list[LeftOut] = []
    marks: dict[str, float] = {}
    wallet = imported.wallet or 0.0
    notes = list(imported.notes)
    for ip in imported.positions:
        reported = Reported(symbol=ip.symbol, liquidation_price=ip.liquidation_price,
                            maintenance_margin=ip.maintenance_margin, max_leverage=ip.max_leverage)
        code, reason = _left_out_reason(profile, ip)
        pos = None
        if not code:
            symbol = resolve_symbol(profile, ip.symbol)
            cap, _k = leverage_limit(profile, symbol, ip.qty * ip.entry)
            lev = max(1.0, min(ip.leverage, cap))
            pos = Position(symbol=symbol, side=ip.side, qty_base=ip.qty, entry_price=ip.entry, leverage=lev,
                           mode=ip.mode, margin_usd=ip.margin)
            try:
                validate_position(profile, pos)
            except InvalidInputError as exc:
                code, reason = "missing_tier", f"{exc.reason} (the profile's table is as of {profile.as_of})"
            if lev != ip.leverage:
                reported = replace(reported, leverage=ip.leverage)
        if code or pos is None:
            left.append(LeftOut(symbol=ip.symbol, side=ip.side.value, qty=ip.qty, entry=ip.entry,
                                liquidation_price=ip.liquidation_price, reason=f"{code}: {reason}",
                                mark=ip.mark, mode=ip.mode.value))
            if ip.mode is MarginMode.CROSS and not ip.inverse:  # an inverse size is not in base units
                wallet += ip.upnl
                notes.append(f"{ip.symbol} is not in the account; its uPnL {fmt.money(ip.upnl)} is kept in the "
                             "wallet, its maintenance margin is not counted")
            continue
        positions.append(pos)
        entries.append(ReportedEntry(position=pos, reported=reported))
        marks.setdefault(pos.symbol, ip.mark)
    missing = imported.wallet is None and any(p.mode is MarginMode.CROSS for p in positions)
    if missing:
        notes.append("wallet missing: the files do not give the cross wallet; the account holds 0")
    if wallet < 0:
        notes.append(f"the cross collateral is {fmt.money(wallet)}, below zero; the account holds 0")
        wallet = 0.0
    # hedge mode where the response says so (Binance positionSide LONG/SHORT, Bybit positionIdx 1/2,
    # OKX posSide long/short) or where a symbol is held both ways: one-way could not hold it
    both_ways = {p.symbol for p in positions if p.side is Side.LONG} & {p.symbol for p in positions
                                                                        if p.side is Side.SHORT}
    mode = (PositionMode.HEDGE if both_ways or any(ip.hedge_leg for ip in imported.positions)
            else PositionMode.ONE_WAY)
    account = Account(profile_id=profile.id, wallet_usd=wallet, positions=tuple(positions),
                      marks=tuple(sorted(marks.items())), position_mode=mode)
    record = AuditRecord(format=imported.format, source=imported.source, time_ms=imported.time_ms,
                         entries=tuple(entries), left_out=tuple(left),
                         account_maintenance=imported.account_maintenance, notes=tuple(dict.fromkeys(notes)))
    return account, record


def wallet_missing(record: AuditRecord) -> bool:
    return any(n.startswith("wallet missing") for n in record.notes)


# ---------------------------------------------------------------------------------------------
# Requoting with one difference removed


def _requote(profile: Profile, account: Account, leverages: Mapping[int, float] | None = None) -> AccountQuote | None:
    """The account under ``profile``, each leverage brought within what that profile allows; None if refused."""
    ps = []
    for i, p in enumerate(account.positions):
        lev = (leverages or {}).get(i, p.leverage)
        try:
            cap, _k = leverage_limit(profile, p.symbol, entry_notional(profile, p))
        except InvalidInputError:
            return None
        ps.append(p.with_(leverage=max(1.0, min(lev, cap))))
    try:
        return quote_account(profile, account.with_(positions=tuple(ps)))
    except InvalidInputError:
        return None


def _lp(q: AccountQuote | None, i: int) -> float:
    return math.nan if q is None else q.positions[i].liquidation_price


def _one_tier(c: Contract, *, mmr: float, max_leverage: float) -> Contract:
    return replace(c, tiers=TierTable.single(mmr=mmr, max_leverage=max_leverage))


def _response_table(profile: Profile, account: Account, entries: Mapping[int, ReportedEntry]) -> tuple[
        Profile | None, dict[str, str]]:
    """The profile with each position's contract replaced by the tier its response states; what changed.

    Hyperliquid states each asset's maximum leverage (MMR = 1 / (2 x max, docs/domain.md §2.5));
    other exchanges a maintenance margin, read as one rate at the position's notional (only where
    no fee enters MM, so that the rate is the table's own).
    """
    rules = profile.rules
    out = profile
    changed: dict[str, str] = {}
    for i, e in entries.items():
        p = account.positions[i]
        c = profile.contract(p.symbol)
        k = int(c.tiers.index(entry_notional(profile, p)))
        ours = float(profile.effective_tiers(p.symbol).mmr[k])
        r = e.reported
        if r.max_leverage is not None and rules.mmr_from_max_leverage:
            mmr, lev = 1.0 / (2.0 * r.max_leverage), r.max_leverage
            what = f"a {r.max_leverage:g}x maximum (MMR {fmt.pct(mmr, 3)})"
            theirs = f"{float(c.tiers.max_leverage[k]):g}x (MMR {fmt.pct(ours, 3)})"
        elif r.maintenance_margin is not None and rules.fee_model is FeeModel.NONE:
            mark = account.mark_of(p)
            mmr, lev = r.maintenance_margin / (p.qty_base * mark), float(c.tiers.max_leverage[k])
            if not 0 < mmr < 1:
                continue
            what = f"a maintenance margin of {fmt.money(r.maintenance_margin)} (MMR {fmt.pct(mmr, 3)})"
            theirs = f"MMR {fmt.pct(ours, 3)}"
        else:
            continue
        if abs(mmr - ours) <= 1e-9 * ours:
            continue
        out = out.with_contract(_one_tier(c, mmr=mmr, max_leverage=lev))
        changed[p.symbol] = f"the response gives {p.symbol} {what}, the profile (as of {profile.as_of}) {theirs}"
    return (out if changed else None), changed


def _uniform_rate(profile: Profile, account: Account, record: AuditRecord, mmr: float) -> tuple[Profile, Account]:
    """Every contract of the account at one rate ``mmr``; the cross positions left out for an unknown
    symbol come back at that rate too (their uPnL leaves the wallet again), so that the whole
    account's maintenance margin is counted. The account's own positions keep their indices."""
    out = profile
    for sym in dict.fromkeys(p.symbol for p in account.positions):
        out = out.with_contract(_one_tier(profile.contract(sym), mmr=mmr, max_leverage=1000.0))
    extra, wallet = [], account.wallet_usd
    marks = dict(account.marks)
    for x in record.left_out:
        if x.mode != "cross" or x.mark is None or not x.reason.startswith("unknown_symbol"):
            continue
        name = f"{x.symbol} (left out)"
        # a contract like the account's own (same quote and settlement asset: one account, one asset)
        like = profile.contract(account.positions[0].symbol) if account.positions else None
        tiers = TierTable.single(mmr=mmr, max_leverage=1000.0)
        out = out.with_contract(Contract(symbol=name, tiers=tiers) if like is None else
                                replace(like, symbol=name, tiers=tiers))
        pos = Position(symbol=name, side=Side(x.side), qty_base=x.qty, entry_price=x.entry, leverage=1.0,
                       mode=MarginMode.CROSS)
        extra.append(pos)
        marks[name] = x.mark
        wallet -= pos.sign * x.qty * (x.mark - x.entry)
    if not extra:
        return out, account
    return out, account.with_(positions=(*account.positions, *extra), wallet_usd=max(wallet, 0.0),
                              marks=tuple(sorted(marks.items())))


def _implied(f: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The input at which ``f`` (an LP, with "none" read as 0) gives ``target``; NaN when none does."""
    return bracketed_root(lambda x: _zero_if_none(f(x)), target, lo, hi)


def _zero_if_none(lp: float) -> float:
    # a long's LP goes to "none" (NaN) as it reaches 0: read as 0 it stays monotone
    return 0.0 if math.isnan(lp) else lp


# ---------------------------------------------------------------------------------------------
# The verdicts


@dataclass(slots=True)
class _Audit:
    profile: Profile
    account: Account
    record: AuditRecord
    quote: AccountQuote
    entries: dict[int, ReportedEntry]
    cache: dict[str, Any] = field(default_factory=dict)

    def tick(self, i: int) -> float:
        return self.profile.contract(self.account.positions[i].symbol).tick_size

    def close(self, ours: float, theirs: float | None, i: int, *, bp: float = 0.0) -> bool:
        """Whether ``ours`` is the exchange's price: within one tick (and ``bp`` basis points)."""
        if theirs is None:
            return math.isnan(ours)
        if not math.isfinite(ours):
            return False
        tol = max(self.tick(i), theirs * bp * 1e-4) * (1 + 1e-9)
        return abs(ours - theirs) <= tol

    def explained(self, code: str, text: str, lp: float, theirs: float | None) -> Verdict:
        bp = (lp - theirs) / theirs * 1e4 if theirs and math.isfinite(lp) else math.nan
        return Verdict(code, text, explained_lp=lp, explained_bp=bp)

    # -- the differences, in order

    def verdict(self, i: int) -> Verdict:
        p = self.account.positions[i]
        theirs = self.entries[i].reported.liquidation_price
        ours = self.quote.positions[i].liquidation_price
        tick = self.tick(i)
        if p.mode is MarginMode.CROSS and wallet_missing(self.record):
            return self._no_wallet(i, theirs)
        if self.close(ours, theirs, i):
            if theirs is None:
                v = Verdict("match", "match: neither shows a liquidation price (the collateral covers the position)")
            else:
                v = Verdict("match", f"match: within one tick ({fmt.num(tick)})")
        else:
            v = next((x for test in (self._hedge, self._fee, self._table, self._uniform_rate)
                      if (x := test(i, theirs)) is not None), None) or self._unexplained(i, theirs)
        return replace(v, text=v.text + self._mm_note(i))

    def _mm_note(self, i: int) -> str:
        """The maintenance margins side by side where the exchange's differs from ours by over 0.5 %."""
        theirs = self.entries[i].reported.maintenance_margin
        ours = self.quote.positions[i].maintenance_margin
        if theirs is None or abs(ours - theirs) <= 0.005 * theirs:
            return ""
        p = self.account.positions[i]
        implied = theirs / (p.qty_base * self.account.mark_of(p))
        return (f"; the maintenance margins differ: the exchange's {fmt.money(theirs)} (MMR {fmt.pct(implied, 3)} of "
                f"the notional), MarginLab's {fmt.money(ours)}")

    def _hedge(self, i: int, theirs: float | None) -> Verdict | None:
        p = self.account.positions[i]
        if p.mode is not MarginMode.CROSS or self.account.position_mode is PositionMode.HEDGE:
            return None  # hedge mode is modelled: both legs are solved together (docs/domain.md §8)
        other = next((j for j, o in enumerate(self.account.positions) if j != i and o.symbol == p.symbol
                      and o.mode is MarginMode.CROSS and o.side is not p.side), None)
        if other is None:
            return None
        shared = self.entries[other].reported.liquidation_price if other in self.entries else None
        same = theirs is not None and shared is not None and abs(theirs - shared) <= self.tick(i)
        return Verdict("hedge", f"hedge mode: {p.symbol} is held long and short in cross margin; the exchange "
                                f"gives both legs one liquidation price{' (it reports the same for both)' if same else ''}"
                                f" (docs/domain.md §8), MarginLab each leg its own holding the other at its mark: "
                                "not yet modelled")

    def _table(self, i: int, theirs: float | None) -> Verdict | None:
        if "table" not in self.cache:
            prof, changed = _response_table(self.profile, self.account, self.entries)
            leverages = {j: e.reported.leverage for j, e in self.entries.items() if e.reported.leverage}
            self.cache["table"] = (None if prof is None else _requote(prof, self.account, leverages), changed)
        q, changed = self.cache["table"]
        if q is None or not self.close(_lp(q, i), theirs, i, bp=EXPLAINED_BP):
            return None
        sym = self.account.positions[i].symbol
        why = changed.get(sym) or "; ".join(changed.values())
        lp = _lp(q, i)
        return self.explained("table", f"table date: {why}; with the response's figures MarginLab gives "
                                       f"{fmt.price(lp, self.tick(i))}", lp, theirs)

    def _fee(self, i: int, theirs: float | None) -> Verdict | None:
        rules = self.profile.rules
        taker = rules.taker_fee
        variants = {FeeModel.NONE: "without a fee term",
                    FeeModel.TAKER_IN_MMR: f"with the taker fee ({fmt.pct(taker, 3)}) added to every maintenance rate",
                    FeeModel.CLOSE_FEE: f"with the fee to close ({fmt.pct(taker, 3)}) at the bankruptcy price in MM"}
        found = []  # every fee model that explains the price; the closest one is named
        for model, words in variants.items():
            if model is rules.fee_model or (model is not FeeModel.NONE and taker <= 0):
                continue
            lp = _lp(_requote(replace(self.profile, rules=replace(rules, fee_model=model)), self.account), i)
            if self.close(lp, theirs, i, bp=EXPLAINED_BP):
                found.append((abs(lp - theirs) if theirs is not None else 0.0, words, lp))
        if not found:
            return None
        _gap, words, lp = min(found)
        return self.explained("fee", f"fee: the profile's rules use fee model {rules.fee_model.value}; "
                                     f"{words}, MarginLab gives {fmt.price(lp, self.tick(i))}", lp, theirs)

    def at_rate(self, r: float) -> AccountQuote | None:
        return _requote(*_uniform_rate(self.profile, self.account, self.record, r))

    def implied_rate(self, i: int, theirs: float) -> float:
        """The one maintenance rate, for every contract of the account, that gives the exchange's price."""
        return _implied(lambda r: _lp(self.at_rate(r), i), theirs, 1e-6, 0.5)

    def _uniform_rate(self, i: int, theirs: float | None) -> Verdict | None:
        """One rate for every contract explains this price and, to corroborate, another position's."""
        if theirs is None:
            return None
        others = [j for j, e in self.entries.items() if j != i and e.reported.liquidation_price is not None]
        if not others:
            return None
        r = self.implied_rate(i, theirs)
        if not math.isfinite(r):
            return None
        q = self.at_rate(r)
        agree = [j for j in others if self.close(_lp(q, j), self.entries[j].reported.liquidation_price, j,
                                                 bp=EXPLAINED_BP)]
        if not agree:
            return None
        lp = _lp(q, i)
        names = ", ".join(dict.fromkeys(self.account.positions[j].symbol for j in [i, *agree]))
        return self.explained(
            "table", f"table date: the exchange's prices for {names} all imply one maintenance rate, "
                     f"{fmt.pct(r, 4)}, for every contract of the account; the profile (as of {self.profile.as_of}) "
                     f"has {self._our_rates()}; at {fmt.pct(r, 4)} MarginLab gives {fmt.price(lp, self.tick(i))}",
            lp, theirs)

    def _our_rates(self) -> str:
        rates = sorted({float(self.profile.effective_tiers(p.symbol).mmr[int(self.quote.positions[k].tier.index)])
                        for k, p in enumerate(self.account.positions)})
        return fmt.pct(rates[0], 3) if len(rates) == 1 else f"{fmt.pct(rates[0], 3)} to {fmt.pct(rates[-1], 3)}"

    def _unexplained(self, i: int, theirs: float | None) -> Verdict:
        ours = self.quote.positions[i].liquidation_price
        tick = self.tick(i)
        if theirs is None:
            return Verdict("unexplained", f"unexplained: the exchange shows no liquidation price, MarginLab "
                                          f"{fmt.price(ours, tick)}")
        if not math.isfinite(ours):
            return Verdict("unexplained", f"unexplained: MarginLab finds no liquidation price, the exchange shows "
                                          f"{fmt.price(theirs, tick)}")
        p = self.account.positions[i]
        c = self.profile.contract(p.symbol)
        r = _implied(lambda m: _lp(_requote(self.profile.with_contract(_one_tier(c, mmr=m, max_leverage=1000.0)),
                                            self.account), i), theirs, 1e-6, 0.5)
        k = self.quote.positions[i].liquidation_tier
        text = (f"unexplained: {fmt.num(round((ours - theirs) / theirs * 1e4, 2))} bp "
                f"({fmt.price(ours, tick)} against {fmt.price(theirs, tick)})")
        if math.isfinite(r):
            text += f"; the exchange's price implies MMR {fmt.pct(r, 4)} for {p.symbol}, the profile has {fmt.pct(k.mmr, 4)}"
        return Verdict("unexplained", text)

    def _no_wallet(self, i: int, theirs: float | None) -> Verdict:
        text = ("cross wallet missing: the files do not give the account's cross wallet, so no cross liquidation "
                "price can be computed; save the account's response too (README)")
        if theirs is not None:
            w = _implied(lambda x: _lp(_requote(self.profile, self.account.with_(wallet_usd=x)), i), theirs, 0.0,
                         max(entry_notional(self.profile, self.account.positions[i]) * 1e3, 1e6))
            if math.isfinite(w):
                text += f"; the exchange's price implies a wallet of {fmt.money(w)}"
        return Verdict("no_wallet", text)


def audit_account(profile: Profile | None, account: Account, record: AuditRecord, *,
                  no_profile_reason: str = "") -> AccountAudit:
    """Every imported position of ``account`` (and those left out of it) against the exchange's figures.

    Positions edited since the import (no entry of ``record`` equals them) are not audited.
    """
    rows: list[PositionAudit] = []
    quote: AccountQuote | None = None
    if profile is None:
        for e in record.entries:
            p = e.position
            rows.append(PositionAudit(e.reported.symbol, p.side.value, p.qty_base, p.entry_price, e.reported,
                                      Verdict("no_profile", f"no profile: {no_profile_reason}")))
    else:
        taken: set[int] = set()
        entries: dict[int, ReportedEntry] = {}
        for i, p in enumerate(account.positions):
            found = record.entry_for(p, taken)
            if found is not None:
                taken.add(found[0])
                entries[i] = found[1]
        try:
            quote = quote_account(profile, account) if account.positions else None
        except InvalidInputError as exc:
            for i, e in entries.items():
                p = account.positions[i]
                rows.append(PositionAudit(e.reported.symbol, p.side.value, p.qty_base, p.entry_price, e.reported,
                                          Verdict("unexplained", f"not quoted: {exc}"), index=i))
        if quote is not None:
            ctx = _Audit(profile, account, record, quote, entries)
            for i, e in entries.items():
                p = account.positions[i]
                v = ctx.verdict(i)
                q = None if v.code == "no_wallet" else quote.positions[i]
                rows.append(PositionAudit(e.reported.symbol, p.side.value, p.qty_base, p.entry_price, e.reported,
                                          v, quote=q, index=i, tick=ctx.tick(i)))
    for x in record.left_out:
        code, _, reason = x.reason.partition(": ")
        rows.append(PositionAudit(x.symbol, x.side, x.qty, x.entry,
                                  Reported(symbol=x.symbol, liquidation_price=x.liquidation_price),
                                  Verdict(code, f"{code.replace('_', ' ')}: {reason}")))
    return AccountAudit(profile, account, record, tuple(rows), quote)


def position_audits(profile: Profile, account: Account, record: AuditRecord | None) -> dict[int, PositionAudit]:
    """The audit of each account position that is still as imported, by index (the window's column)."""
    if record is None:
        return {}
    return {p.index: p for p in audit_account(profile, account, record).positions if p.index is not None}
