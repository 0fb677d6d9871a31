"""One asset, many contract names: BTCUSDT on Binance and Bybit is BTC on Hyperliquid.

Exchanges name the same perpetual differently: ``BTCUSDT`` (Binance, Bybit), ``BTC`` (Hyperliquid),
``BTC-PERP``, ``BTC/USDT:USDT`` (ccxt), ``BTCUSDT.P`` (TradingView), ``XBTUSDT`` (BitMEX), and
``1000PEPEUSDT`` on Binance is ``kPEPE`` on Hyperliquid (both 1,000 PEPE per unit). This module
reduces a name to its base asset and finds a profile's contract for it, so that one position can
be compared across profiles (``marginlab-cli compare``) and a portfolio file written for one
exchange can be read under another.

Only names are mapped: quantities and prices are taken as given, so the units must already agree
(1 BTC is 1 BTC everywhere; 1 ``1000PEPE`` is 1 ``kPEPE``).
"""
from __future__ import annotations

import difflib
import re
from typing import Final

from core.errors import InvalidInputError, UnknownProfileError
from core.model import Account
from core.profiles import Profile

#: Quote currencies recognised at the end of a name, longest first so that USDC wins over USD.
QUOTES: Final = ("FDUSD", "USDT", "USDC", "BUSD", "USDE", "USD")
#: Preferred quote when a profile lists the same asset against several.
QUOTE_PREFERENCE: Final = ("USDT", "USDC", "USD")
#: Other names of the same asset.
ALIASES: Final = {"XBT": "BTC"}
_SUFFIXES: Final = ("-PERPETUAL", "-PERP", "_PERP", "-SWAP", ".P", "PERP")
_SEPARATORS: Final = "-/_:"


def split_symbol(symbol: str) -> tuple[str, str]:
    """``(base asset, quote currency)`` of a contract name; the quote is "" when the name has none.

    Examples
    --------
    >>> split_symbol("BTCUSDT"), split_symbol("BTC"), split_symbol("ETH-PERP")
    (('BTC', 'USDT'), ('BTC', ''), ('ETH', ''))
    >>> split_symbol("BTC/USDT:USDT"), split_symbol("XBTUSD"), split_symbol("kPEPE")
    (('BTC', 'USDT'), ('BTC', 'USD'), ('1000PEPE', ''))
    >>> split_symbol("BTCUSD_PERP"), split_symbol("ETHUSD")
    (('BTC', 'USD'), ('ETH', 'USD'))
    """
    name = symbol.strip()
    # Hyperliquid writes a thousand units with a lower-case k (kPEPE, kSHIB); upper-casing first
    # would confuse it with assets that start with K (KAVA, KSM).
    if len(name) > 1 and name[0] == "k" and name[1:2].isupper():
        name = "1000" + name[1:]
    name = name.upper()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    base, quote = name, ""
    parts = [p for p in _split(name) if p]
    if len(parts) > 1:
        base = parts[0]
        quote = parts[1] if parts[1] in QUOTES else ""
    else:
        for q in QUOTES:
            if name.endswith(q) and len(name) > len(q):
                base, quote = name[: -len(q)], q
                break
    return ALIASES.get(base, base), quote


def _split(name: str) -> list[str]:
    for sep in _SEPARATORS:
        name = name.replace(sep, " ")
    return name.split()


def base_asset(symbol: str) -> str:
    """The asset a contract is on: ``base_asset("ETHUSDT") == "ETH"``."""
    return split_symbol(symbol)[0]


def resolve_symbol(profile: Profile, symbol: str) -> str:
    """The profile's own contract name for ``symbol`` (any exchange's spelling).

    An exact name wins, then a case-insensitive one, then the contract on the same base asset,
    preferring the requested quote currency, then USDT, USDC, USD, then the profile's order.
    Exchanges' naming (``BTCUSDT`` on Binance and Bybit, ``BTC`` on Hyperliquid): docs/domain.md §10.

    Raises
    ------
    UnknownProfileError
        (field ``symbol``) when the profile has no contract on that asset; the message lists the
        profile's contracts.

    Examples
    --------
    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> profiles = load_profiles([exchanges_dir()])
    >>> resolve_symbol(profiles.get("hyperliquid"), "BTCUSDT")
    'BTC'
    >>> resolve_symbol(profiles.get("binance"), "ETH")
    'ETHUSDT'
    """
    if symbol in profile.contracts:
        return symbol
    folded = {s.upper(): s for s in profile.symbols}
    if symbol.strip().upper() in folded:
        return folded[symbol.strip().upper()]
    base, quote = split_symbol(symbol)
    candidates = [s for s in profile.symbols if split_symbol(s)[0] == base]
    if not candidates:
        close = closest_symbols(profile, symbol)
        hint = (f"closest: {', '.join(close)}" if close else
                f"it lists {len(profile.symbols)} (`marginlab-cli profiles --symbols {profile.id}`)")
        if len(profile.symbols) <= 8 and not close:
            hint = f"it lists {', '.join(profile.symbols)}"
        raise UnknownProfileError("symbol", f"{profile.id} has no {base} contract (from {symbol!r}); {hint}")
    by_quote = {split_symbol(s)[1] or profile.contracts[s].quote.upper(): s for s in reversed(candidates)}
    for q in (quote, *QUOTE_PREFERENCE):
        if q and q in by_quote:
            return by_quote[q]
    return candidates[0]


def closest_symbols(profile: Profile, symbol: str, *, n: int = 5) -> list[str]:
    """The profile's contracts whose name or base asset is closest to ``symbol`` (difflib), best first.

    Examples
    --------
    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> closest_symbols(load_profiles([exchanges_dir()]).get("binance"), "SOLANA", n=3)
    ['SOLUSDT', 'SOLUSDC', 'SANDUSDT']
    """
    base = split_symbol(symbol)[0]
    by_base: dict[str, list[str]] = {}
    for s in profile.symbols:
        by_base.setdefault(split_symbol(s)[0], []).append(s)
    for syms in by_base.values():  # USDT before USDC before USD within one asset
        syms.sort(key=lambda s: _quote_rank(profile, s))
    bases = [b for b in by_base if _unit_free(b) == base]  # PEPE -> 1000PEPE
    bases += [b for b in sorted(by_base, key=len, reverse=True)
              if len(b) >= 2 and (base.startswith(b) or b.startswith(base))]  # SOLANA -> SOL
    bases += difflib.get_close_matches(base, list(by_base), n=n, cutoff=0.6)
    out = [s for b in bases for s in by_base[b]]
    folded = {s.upper(): s for s in profile.symbols}
    out += [folded[x] for x in difflib.get_close_matches(symbol.strip().upper(), list(folded), n=n, cutoff=0.6)]
    return list(dict.fromkeys(out))[:n]


def _unit_free(base: str) -> str:
    """The asset without a unit multiplier: 1000PEPE -> PEPE, 1MBABYDOGE -> BABYDOGE."""
    return re.sub(r"^\d+[MK]?(?=[A-Z])", "", base)


def _quote_rank(profile: Profile, symbol: str) -> int:
    quote = split_symbol(symbol)[1]
    return QUOTE_PREFERENCE.index(quote) if quote in QUOTE_PREFERENCE else len(QUOTE_PREFERENCE)


def search_symbols(profile: Profile, text: str, *, limit: int = 50) -> list[str]:
    """The profile's contracts that match ``text``, best first: typing "sol" offers SOLUSDT, SOLUSDC.

    An exact name, then the contracts on that base asset, then names that start with the text,
    then names that contain it; case does not matter. Empty text: the first ``limit`` contracts.

    Examples
    --------
    >>> from core.paths import exchanges_dir
    >>> from core.profiles import load_profiles
    >>> search_symbols(load_profiles([exchanges_dir()]).get("binance"), "sol")[:2]
    ['SOLUSDT', 'SOLUSDC']
    """
    t = text.strip().upper()
    if not t:
        return list(profile.symbols[:limit])
    base = split_symbol(text)[0]
    ranked: list[tuple[int, int, int, str]] = []
    for i, s in enumerate(profile.symbols):
        u = s.upper()
        if u == t:
            rank = 0
        elif split_symbol(s)[0] == base or _unit_free(split_symbol(s)[0]) == base:
            rank = 1
        elif u.startswith(t):
            rank = 2
        elif t in u:
            rank = 3
        else:
            continue
        ranked.append((rank, _quote_rank(profile, s), i, s))
    return [s for *_, s in sorted(ranked)[:limit]]


def map_account(account: Account, profile: Profile, *, source: Profile | None = None) -> Account:
    """``account`` moved to ``profile``: every position's and mark's symbol mapped by :func:`resolve_symbol`.

    ``source`` is the profile the account is on now; given, a move between a linear and an inverse
    contract is refused (below).

    Quantities, prices, margins and the wallet are kept as they are (see the module notes), so a
    position is not moved between a linear and an inverse contract: its size would be in other
    units and the wallet in another asset (``marginlab-cli compare`` converts one position by its
    notional at entry instead, :func:`core.compare.convert_position`).
    Worked: the FAQ account's BTCUSDT long moved to ``hyperliquid`` becomes a BTC long of the same
    5 BTC at 68,000.

    Raises
    ------
    UnknownProfileError
        (field ``symbol``) naming the first contract the profile lacks.
    InvalidInputError
        (field ``symbol``) naming the position's contract and the profile's, with their types and
        settle assets, when they differ in type.
    """
    mapping = {p.symbol: resolve_symbol(profile, p.symbol) for p in account.positions}
    for p in account.positions:
        old = source.contracts.get(p.symbol) if source is not None else None
        new = profile.contract(mapping[p.symbol])
        if old is not None and old.type is not new.type:
            raise InvalidInputError(
                "symbol", f"{p.symbol} is {old.type.value} (settles in {old.settle}) but {profile.id}'s "
                f"{new.symbol} is {new.type.value} (settles in {new.settle}): sizes and the wallet would be in "
                "other units; open the position on that contract instead")
    marks = {mapping.get(sym, sym): m for sym, m in account.marks}
    return account.with_(profile_id=profile.id,
                         positions=tuple(p.with_(symbol=mapping[p.symbol]) for p in account.positions),
                         marks=tuple(sorted(marks.items())))


def contracts_by_asset(profiles: list[Profile] | tuple[Profile, ...]) -> dict[str, dict[str, str]]:
    """``{base asset: {profile id: contract}}`` over the given profiles (the first contract each)."""
    out: dict[str, dict[str, str]] = {}
    for p in profiles:
        for s in p.symbols:
            out.setdefault(base_asset(s), {}).setdefault(p.id, s)
    return out
