"""Hypothesis strategies for the engine: finite numbers only (no NaN, no inf), valid by construction."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from core.model import MarginMode, Position, Side
from core.paths import exchanges_dir
from core.profiles import Profile, ProfileSet, load_profiles
from core.quote import opening_requirement

PROFILES: ProfileSet = load_profiles([exchanges_dir()])


def finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


sides = st.sampled_from([Side.LONG, Side.SHORT])
profile_ids = st.sampled_from(sorted(PROFILES.ids))


@dataclass(frozen=True)
class Case:
    profile: Profile
    position: Position


@st.composite
def isolated_cases(draw, *, profile_id: str | None = None, extra_margin: bool = True) -> Case:
    """A valid isolated position on a shipped profile: notional within the table, leverage allowed
    by the tier of its notional and below 1/MMR, margin at or above the opening requirement."""
    pid = profile_id or draw(profile_ids)
    prof = PROFILES.get(pid)
    sym = draw(st.sampled_from(prof.symbols))
    tiers = prof.contract(sym).tiers
    eff = prof.effective_tiers(sym)
    contract = prof.contract(sym)
    top = min(float(tiers.cap[-1]) * 0.999, 2e9)
    notional = draw(finite(10.0 if not contract.is_inverse else 1e-4, top))  # in the settle asset
    entry = draw(finite(0.5, 250_000.0))
    # linear: base units; inverse: contracts of `size` quote units, worth notional x entry / size
    qty = notional * entry / contract.size if contract.is_inverse else notional / entry
    k = int(tiers.index(notional))
    max_lev = min(float(tiers.max_leverage[k]), 0.999 / float(eff.mmr[k]))
    lev = draw(finite(1.0, max(1.0, max_lev)))
    side = draw(sides)
    pos = Position(sym, side, qty, entry, lev)
    if extra_margin:
        factor = draw(st.one_of(st.just(1.0), finite(1.0, 3.0)))
        pos = pos.with_(margin_usd=opening_requirement(prof, pos) * factor)
    return Case(prof, pos)


@st.composite
def cross_accounts(draw, *, profile_id: str = "binance"):
    """Two cross positions on different symbols and their marks, plus a wallet."""
    prof = PROFILES.get(profile_id)
    syms = list(prof.symbols)[:2]
    positions = []
    marks = {}
    for sym in syms:
        entry = draw(finite(10.0, 100_000.0))
        notional = draw(finite(100.0, 2_000_000.0))
        side = draw(sides)
        positions.append(Position(sym, side, notional / entry, entry, draw(finite(1.0, 20.0)),
                                  mode=MarginMode.CROSS))
        marks[sym] = entry * draw(finite(0.9, 1.1))
    notional_sum = sum(p.qty_base * p.entry_price for p in positions)
    wallet = notional_sum * draw(finite(0.06, 2.0))
    return prof, tuple(positions), marks, wallet
