"""Import tier tables from the exchanges' own public API responses into a dated profile.

A trader saves what the exchange answers (a browser or ``curl`` will do) and runs
``marginlab-cli profiles import FILE``; the window offers the same as File > Import exchange
tiers…. Five shapes are read (docs/domain.md §10 lists the fields):

============================ ===================================================================
format                       response
============================ ===================================================================
``binance-brackets``         Binance USDⓈ-M ``GET /fapi/v1/leverageBracket``: a list of
                             ``{symbol, brackets: [{bracket, initialLeverage, notionalCap,
                             notionalFloor, maintMarginRatio, cum}]}``
``binance-coinm-brackets``   Binance COIN-M ``GET /dapi/v2/leverageBracket`` (or v1, keyed by
                             ``pair``): ``{symbol, brackets: [{bracket, initialLeverage, qtyCap,
                             qtylFloor (or qtyFloor), maintMarginRatio, cum}]}``, in the coin
``ccxt-tiers``               a ccxt ``fetch_leverage_tiers()`` dump: ``{"SOL/USDT:USDT": [{tier,
                             minNotional, maxNotional, maintenanceMarginRate, maxLeverage, info}]}``
``bybit-risk-limit``         Bybit ``GET /v5/market/risk-limit`` (``category=linear`` or
                             ``inverse``): ``result.list`` of ``{symbol, riskLimitValue,
                             maintenanceMargin, initialMargin, maxLeverage, mmDeduction}``
``okx-position-tiers``       OKX ``GET /api/v5/public/position-tiers``: ``data`` of ``{instId,
                             tier, minSz, maxSz, mmr, imr, maxLever}``
``hyperliquid-meta``         Hyperliquid ``POST /info {"type": "meta"}``: ``universe`` and
                             ``marginTables`` (``metaAndAssetCtxs``' first element is the same)
============================ ===================================================================

Every table read becomes rows of the profile format (docs/profiles.md). The maintenance amount is
derived by the continuity recursion (:func:`core.tiers.maintenance_amounts`) where a format lacks
it, and checked against the recursion where it is given; every table must be a ladder
(:meth:`core.tiers.TierTable.check_ladder`). A file that is not one of these shapes, or a value out
of range, is refused with ONE :class:`TierImportError` naming the file, the JSON path and the
problem. Nothing here touches the network or the clock: the caller passes the date.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core import fmt
from core.errors import FileFormatError, InvalidInputError, ProfileError
from core.persistence import atomic_write_text, read_json_file
from core.profiles import PROFILE_SCHEMA_VERSION, Profile, Rules, load_profile, parse_profile
from core.symbols import QUOTES, split_symbol
from core.tiers import TierTable, maintenance_amounts

#: Largest response file read: every Binance bracket table is about 1 MB.
MAX_IMPORT_BYTES: Final = 32 * 1024 * 1024
#: A given maintenance amount may differ from the recursion by rounding only: this many quote
#: units plus this fraction of the amount (Binance prints ``cum`` to 0.1 USDT); in the coin of an
#: inverse contract, this many coin units.
CUM_TOLERANCE_ABS: Final = 1.0
CUM_TOLERANCE_ABS_COIN: Final = 1e-4
CUM_TOLERANCE_REL: Final = 1e-6
#: Tick used where a source carries none: prices are shown to six decimals (docs/profiles.md).
DEFAULT_TICK: Final = 1e-6
#: Lot used where a source carries none (the profile format's default).
DEFAULT_LOT: Final = 0.001


#: Rules written for a new profile of a format whose exchange MarginLab ships no profile for.
#: OKX (help centre, "Maintenance margin" and "Liquidation price of USDT-margined swaps"): MM is
#: MMR x position value at the mark, liquidation comes at margin ratio 100 % where the requirement
#: is MM plus the fee to close (taker fee x position value), i.e. the taker fee added to every MMR;
#: the tier follows the position's size in contracts, which a price move does not change.
DEFAULT_RULES: Final[dict[str, dict[str, Any]]] = {
    "okx-position-tiers": {"mm_basis": "mark", "fee_model": "taker_in_mmr", "taker_fee": 0.0005,
                           "tier_at_liquidation": False, "partial_liquidation": "tier_step_down"},
}


class TierImportError(ProfileError):
    """A response file that cannot be imported: ``path: json.path: problem`` on one line."""


@dataclass(frozen=True, slots=True)
class ImportedContract:
    """One contract's ladder as read from a response (amounts in the settle asset: the quote
    currency of a linear contract, the coin of an inverse one, whose ``size`` is the quote value of
    one contract)."""

    symbol: str  # the name the response uses (SOLUSDT, SOL/USDT:USDT, SOL-USDT-SWAP, SOL)
    base: str
    quote: str
    floor: tuple[float, ...]
    cap: tuple[float, ...]
    max_leverage: tuple[float, ...]
    mmr: tuple[float, ...]
    cum: tuple[float, ...]
    tick_size: float | None = None
    lot_size: float | None = None
    inverse: bool = False
    size: float = 1.0

    def contract_keys(self) -> dict[str, Any]:
        """The profile keys saying how the contract settles (docs/profiles.md): none for a linear one."""
        if not self.inverse:
            return {}
        return {"type": "inverse", "size": self.size, "settle": self.base}


@dataclass(frozen=True, slots=True)
class ImportedTables:
    """What one response file holds: the format, the exchange it comes from, the ladders."""

    format: str
    exchange: str | None  # None: the format does not say (a ccxt dump)
    contracts: tuple[ImportedContract, ...]
    skipped: tuple[str, ...] = ()  # names left out (dated futures, delisted, coin-settled), with why
    mmr_from_max_leverage: bool = False  # the exchange derives MMR from the leverage (Hyperliquid)


# ---------------------------------------------------------------------------------------------
# Reading values


def _fail(where: str, path: str, problem: str) -> TierImportError:
    return TierImportError(where, path or "(top level)", problem)


def _num(where: str, path: str, value: Any, *, lo: float = 0.0, lo_open: bool = False,
         hi: float = math.inf, allow_inf: bool = False) -> float:
    """A number from a response, where exchanges send numbers as strings ("0.004")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(where, path, f"expected a number, got {value!r}"[:200])
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise _fail(where, path, f"expected a number, got {value!r}"[:200]) from None
    if math.isinf(x) and allow_inf and x > 0:
        return x
    if not math.isfinite(x) or x < lo or (lo_open and x == lo) or x > hi:
        rng = f"{'>' if lo_open else '>='} {lo:g}" + ("" if math.isinf(hi) else f" and <= {hi:g}")
        raise _fail(where, path, f"must be a finite number {rng}, got {value!r}"[:200])
    return x


def _get(where: str, path: str, obj: Any, key: str) -> Any:
    if not isinstance(obj, dict):
        raise _fail(where, path, f"expected an object, got {type(obj).__name__}")
    if key not in obj:
        raise _fail(where, f"{path}.{key}" if path else key, "missing")
    return obj[key]


def _list(where: str, path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, path, f"expected a list, got {type(value).__name__}")
    return value


def _str(where: str, path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise _fail(where, path, f"expected a contract name, got {value!r}"[:200])
    return value.strip()


def _ladder(where: str, path: str, *, symbol: str, floor: list[float], cap: list[float], lev: list[float],
            mmr: list[float], cum: list[float | None], tick: float | None = None,
            lot: float | None = None, coin: bool = False) -> ImportedContract:
    """Rows of one contract, sorted by floor, checked as a ladder; amounts derived or checked."""
    order = sorted(range(len(floor)), key=lambda i: floor[i])
    f, c, lv, r = ([xs[i] for i in order] for xs in (floor, cap, lev, mmr))
    given = [cum[i] for i in order]
    try:
        TierTable.from_rows(floor=f, cap=c, max_leverage=lv, mmr=r).check_ladder()
    except InvalidInputError as exc:
        k = int(exc.field.split("[")[1].split("]")[0]) if exc.field.startswith("tiers[") else 0
        name = exc.field.rpartition(".")[2]
        raise _fail(where, f"{path}[{order[min(k, len(order) - 1)]}]", f"{symbol}: {name}: {exc.reason}") from None
    derived = maintenance_amounts(f, r).tolist()
    for k, (g, d) in enumerate(zip(given, derived, strict=True)):
        tol = CUM_TOLERANCE_ABS_COIN if coin else CUM_TOLERANCE_ABS
        if g is not None and abs(g - d) > tol + CUM_TOLERANCE_REL * abs(d):
            raise _fail(where, f"{path}[{order[k]}]",
                        f"{symbol}: maintenance amount {g:g} differs from the continuity recursion's {d:.10g} "
                        "(docs/domain.md §2.2)")
    amounts = [d if g is None else g for g, d in zip(given, derived, strict=True)]
    base, quote = split_symbol(symbol)
    return ImportedContract(symbol=symbol, base=base, quote=quote or "USDT", floor=tuple(f), cap=tuple(c),
                            max_leverage=tuple(lv), mmr=tuple(r), cum=tuple(amounts), tick_size=tick, lot_size=lot)


# ---------------------------------------------------------------------------------------------
# The formats


def parse_binance_brackets(data: Any, where: str) -> ImportedTables:
    """Binance ``GET /fapi/v1/leverageBracket`` (a list, or one symbol's object).

    ``notionalFloor`` -> floor, ``notionalCap`` -> cap, ``initialLeverage`` -> max leverage,
    ``maintMarginRatio`` -> MMR, ``cum`` -> maintenance amount (checked against the recursion).
    Reference: https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
    """
    items = [data] if isinstance(data, dict) else _list(where, "", data)
    out = []
    for i, item in enumerate(items):
        symbol = _str(where, f"[{i}].symbol", _get(where, f"[{i}]", item, "symbol"))
        brackets = _list(where, f"[{i}].brackets", _get(where, f"[{i}]", item, "brackets"))
        rows: dict[str, list[Any]] = {k: [] for k in ("floor", "cap", "lev", "mmr", "cum")}
        for j, b in enumerate(brackets):
            p = f"[{i}].brackets[{j}]"
            rows["floor"].append(_num(where, f"{p}.notionalFloor", _get(where, p, b, "notionalFloor")))
            rows["cap"].append(_num(where, f"{p}.notionalCap", _get(where, p, b, "notionalCap"), lo_open=True,
                                    allow_inf=True))
            rows["lev"].append(_num(where, f"{p}.initialLeverage", _get(where, p, b, "initialLeverage"), lo=1,
                                    hi=1000))
            rows["mmr"].append(_num(where, f"{p}.maintMarginRatio", _get(where, p, b, "maintMarginRatio"),
                                    lo_open=True, hi=1))
            rows["cum"].append(_num(where, f"{p}.cum", b["cum"]) if isinstance(b, dict) and "cum" in b else None)
        if not brackets:
            raise _fail(where, f"[{i}].brackets", f"{symbol}: no brackets")
        out.append(_ladder(where, f"[{i}].brackets", symbol=symbol, floor=rows["floor"], cap=rows["cap"],
                           lev=rows["lev"], mmr=rows["mmr"], cum=rows["cum"]))
    return ImportedTables("binance-brackets", "binance", tuple(out))


#: Binance COIN-M contract sizes: 100 USD for BTC, 10 USD for the others (Binance's "Coin-Margined
#: Futures Contract Specifications", https://www.binance.com/en/support/faq/a4470430e3164c13932be8967961aede).
COINM_SIZES: Final = {"BTC": 100.0}
COINM_DEFAULT_SIZE: Final = 10.0


def parse_binance_coinm_brackets(data: Any, where: str) -> ImportedTables:
    """Binance COIN-M ``GET /dapi/v2/leverageBracket`` (a list, or one symbol's object; v1 names the
    ``pair`` instead of the symbol).

    ``qtylFloor`` (the documented spelling; ``qtyFloor`` is accepted too) -> floor, ``qtyCap`` -> cap,
    both in the coin (the notional in BTC of BTCUSD_PERP); ``initialLeverage``, ``maintMarginRatio``
    and ``cum`` (in the coin, checked against the recursion) as for USDⓈ-M. Numbers may be strings.
    ``notionalCoef``, which appears when an account's brackets were adjusted, is not applied: the
    caps are read as sent. Dated futures (BTCUSD_250627) are skipped; a v1 ``pair`` is the perpetual
    (``BTCUSD`` -> ``BTCUSD_PERP``). Contracts are inverse, settled in the base coin, 100 USD (BTC)
    or 10 USD (others) each (:data:`COINM_SIZES`). Reference:
    https://developers.binance.com/docs/derivatives/coin-margined-futures/account/rest-api/Notional-Bracket-for-Symbol
    """
    items = [data] if isinstance(data, dict) else _list(where, "", data)
    out, skipped = [], []
    for i, item in enumerate(items):
        key = "symbol" if isinstance(item, dict) and "symbol" in item else "pair"
        name = _str(where, f"[{i}].{key}", _get(where, f"[{i}]", item, key))
        symbol = name if key == "symbol" else f"{name}_PERP"
        if not symbol.endswith("_PERP"):
            skipped.append(f"{symbol} (dated future)")
            continue
        brackets = _list(where, f"[{i}].brackets", _get(where, f"[{i}]", item, "brackets"))
        if not brackets:
            raise _fail(where, f"[{i}].brackets", f"{symbol}: no brackets")
        rows: dict[str, list[Any]] = {k: [] for k in ("floor", "cap", "lev", "mmr", "cum")}
        for j, b in enumerate(brackets):
            p = f"[{i}].brackets[{j}]"
            fkey = "qtylFloor" if isinstance(b, dict) and "qtylFloor" in b else "qtyFloor"
            rows["floor"].append(_num(where, f"{p}.{fkey}", _get(where, p, b, fkey)))
            rows["cap"].append(_num(where, f"{p}.qtyCap", _get(where, p, b, "qtyCap"), lo_open=True, allow_inf=True))
            rows["lev"].append(_num(where, f"{p}.initialLeverage", _get(where, p, b, "initialLeverage"), lo=1,
                                    hi=1000))
            rows["mmr"].append(_num(where, f"{p}.maintMarginRatio", _get(where, p, b, "maintMarginRatio"),
                                    lo_open=True, hi=1))
            rows["cum"].append(_num(where, f"{p}.cum", b["cum"]) if isinstance(b, dict) and b.get("cum") not in
                               (None, "") else None)
        c = _ladder(where, f"[{i}].brackets", symbol=symbol, floor=rows["floor"], cap=rows["cap"], lev=rows["lev"],
                    mmr=rows["mmr"], cum=rows["cum"], lot=1.0, coin=True)
        out.append(dataclasses.replace(c, quote="USD", inverse=True,
                                       size=COINM_SIZES.get(c.base, COINM_DEFAULT_SIZE)))
    return ImportedTables("binance-coinm-brackets", "binance-coinm", tuple(out), skipped=tuple(skipped))


def _ccxt_symbol(symbol: str) -> tuple[str, str, str, str]:
    """``(base, quote, settle, expiry)`` of a ccxt unified name: "BTC/USDT:USDT-241227"."""
    pair, _, settle_exp = symbol.partition(":")
    base, _, quote = pair.partition("/")
    settle, _, expiry = settle_exp.partition("-")
    return base, quote, settle, expiry


def parse_ccxt_tiers(data: Any, where: str) -> ImportedTables:
    """A ccxt ``fetch_leverage_tiers()`` dump: ``{unified symbol: [tier, ...]}``.

    ``minNotional``/``maxNotional``/``maxLeverage``/``maintenanceMarginRate`` are read; the
    maintenance amount comes from the raw ``info.cum`` where the exchange sent one (Binance),
    else from the recursion. Only linear perpetuals settled in a stablecoin are kept (MarginLab's
    formulas are for those, docs/domain.md §1.1); dated futures and coin-settled contracts are
    listed as skipped. Reference: https://docs.ccxt.com/#/?id=leverage-tiers-structure
    """
    if not isinstance(data, dict) or not data:
        raise _fail(where, "", "expected an object of {\"SYMBOL/QUOTE:SETTLE\": [tiers]}")
    out, skipped = [], []
    for symbol, tiers in data.items():
        base, quote, settle, expiry = _ccxt_symbol(str(symbol))
        p = json.dumps(str(symbol))
        if not base or not quote:
            raise _fail(where, p, f"{symbol!r} is not a ccxt unified symbol (BASE/QUOTE:SETTLE)")
        if expiry:
            skipped.append(f"{symbol} (dated future)")
            continue
        if settle != quote or quote not in QUOTES:
            skipped.append(f"{symbol} (not settled in a stablecoin)")
            continue
        rows: dict[str, list[Any]] = {k: [] for k in ("floor", "cap", "lev", "mmr", "cum")}
        for j, t in enumerate(_list(where, p, tiers)):
            q = f"{p}[{j}]"
            rows["floor"].append(_num(where, f"{q}.minNotional", _get(where, q, t, "minNotional")))
            rows["cap"].append(_num(where, f"{q}.maxNotional", _get(where, q, t, "maxNotional"), lo_open=True,
                                    allow_inf=True))
            rows["lev"].append(_num(where, f"{q}.maxLeverage", _get(where, q, t, "maxLeverage"), lo=1, hi=1000))
            rows["mmr"].append(_num(where, f"{q}.maintenanceMarginRate", _get(where, q, t, "maintenanceMarginRate"),
                                    lo_open=True, hi=1))
            info = t.get("info")
            cum = info.get("cum") if isinstance(info, dict) else None
            rows["cum"].append(None if cum in (None, "") else _num(where, f"{q}.info.cum", cum))
        if not rows["floor"]:
            raise _fail(where, p, f"{symbol}: no tiers")
        c = _ladder(where, p, symbol=str(symbol), floor=rows["floor"], cap=rows["cap"], lev=rows["lev"],
                    mmr=rows["mmr"], cum=rows["cum"])
        out.append(dataclasses.replace(c, base=base, quote=quote))
    return ImportedTables("ccxt-tiers", None, tuple(out), skipped=tuple(skipped))


def _unwrap(data: Any, where: str, *keys: str) -> tuple[Any, str]:
    """``data[k1][k2]...`` where the response wraps its list (Bybit ``result.list``)."""
    path = ""
    for k in keys:
        data = _get(where, path, data, k)
        path = f"{path}.{k}" if path else k
    return data, path


def parse_bybit_risk_limit(data: Any, where: str) -> ImportedTables:
    """Bybit ``GET /v5/market/risk-limit?category=linear`` or ``category=inverse``: ``result.list``.

    Grouped by symbol and sorted by ``riskLimitValue``: each limit is a tier's cap, its floor the
    previous limit (0 for the first); ``maintenanceMargin`` is the MMR, ``mmDeduction`` the
    maintenance amount (checked against the recursion; derived where empty). A linear response
    gives rates as fractions ("0.005") and limits in USDT. An **inverse** one (``result.category``
    "inverse", or without a category symbols quoted in USD such as BTCUSD) gives rates in
    **percent** ("0.5" = 0.5 %, the v5 documentation's example: BTCUSD risk limit 1, 150 BTC, MM
    "0.5", IM "1", 100x, mmDeduction "") and limits in the coin; its contracts are inverse, 1 USD
    each, settled in the base coin. Reference: https://bybit-exchange.github.io/docs/v5/market/risk-limit
    """
    category = data.get("result", {}).get("category") if isinstance(data, dict) and isinstance(
        data.get("result"), dict) else None
    items, path = _unwrap(data, where, "result", "list") if isinstance(data, dict) else (data, "")
    items = _list(where, path, items)
    by_symbol: dict[str, list[tuple[int, Any]]] = {}
    for i, item in enumerate(items):
        symbol = _str(where, f"{path}[{i}].symbol", _get(where, f"{path}[{i}]", item, "symbol"))
        by_symbol.setdefault(symbol, []).append((i, item))
    out: list[ImportedContract] = []
    kinds: set[bool] = set()
    for symbol, rows_in in by_symbol.items():
        inverse = category == "inverse" or (category is None and split_symbol(symbol)[1] == "USD")
        caps = [_num(where, f"{path}[{i}].riskLimitValue", _get(where, f"{path}[{i}]", it, "riskLimitValue"),
                     lo_open=True) for i, it in rows_in]
        ordered = sorted(zip(caps, rows_in, strict=True), key=lambda x: x[0])
        floor, cap, lev, mmr, cum = [], [], [], [], []
        prev = 0.0
        for c, (i, it) in ordered:
            q = f"{path}[{i}]"
            floor.append(prev)
            cap.append(c)
            prev = c
            lev.append(_num(where, f"{q}.maxLeverage", _get(where, q, it, "maxLeverage"), lo=1, hi=1000))
            rate = _num(where, f"{q}.maintenanceMargin", _get(where, q, it, "maintenanceMargin"), lo_open=True,
                        hi=100 if inverse else 1)
            mmr.append(rate / 100.0 if inverse else rate)
            d = it.get("mmDeduction")
            cum.append(None if d in (None, "") else _num(where, f"{q}.mmDeduction", d))
        ladder = _ladder(where, f"{path}", symbol=symbol, floor=floor, cap=cap, lev=lev, mmr=mmr, cum=cum,
                         lot=1.0 if inverse else None, coin=inverse)
        out.append(dataclasses.replace(ladder, quote="USD", inverse=True, size=1.0) if inverse else ladder)
        kinds.add(inverse)
    if len(kinds) > 1:
        raise _fail(where, path, "linear and inverse risk limits in one file: import each category on its own")
    if True in kinds:
        return ImportedTables("bybit-risk-limit", "bybit-inverse", tuple(out))
    return ImportedTables("bybit-risk-limit", "bybit", tuple(out))


def parse_okx_position_tiers(data: Any, where: str, *, prices: Mapping[str, float] | None = None,
                             contract_values: Mapping[str, float] | None = None) -> ImportedTables:
    """OKX ``GET /api/v5/public/position-tiers?instType=SWAP``: ``data`` of position tiers.

    OKX sizes its tiers in **contracts** (``minSz``/``maxSz``), MarginLab in notional: each bound is
    converted as ``size x contract value x reference price``, which is exact only at that price
    (docs/profiles.md, "OKX"). ``contract_values`` and ``prices`` name them per ``instId``; a
    record's own ``ctVal`` is used where present. The maintenance amount is 0 in every tier: OKX
    charges MMR x position value with no deduction. Reference:
    https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers
    """
    items, path = _unwrap(data, where, "data") if isinstance(data, dict) else (data, "")
    items = _list(where, path, items)
    by_inst: dict[str, list[tuple[int, Any]]] = {}
    for i, item in enumerate(items):
        inst = _str(where, f"{path}[{i}].instId", _get(where, f"{path}[{i}]", item, "instId"))
        by_inst.setdefault(inst, []).append((i, item))
    prices = prices or {}
    contract_values = contract_values or {}
    out = []
    for inst, rows_in in by_inst.items():
        first = rows_in[0][1]
        if inst in contract_values:
            ct_val = contract_values[inst]
        elif isinstance(first, dict) and "ctVal" in first:
            ct_val = _num(where, f"{path}[{rows_in[0][0]}].ctVal", first["ctVal"], lo_open=True)
        else:
            raise _fail(where, f"{path}[{rows_in[0][0]}]",
                        f"{inst}: tiers are sized in contracts; give its contract value (ctVal of GET "
                        "/api/v5/public/instruments) with --contract-value INSTID=VALUE")
        if inst not in prices:
            raise _fail(where, f"{path}[{rows_in[0][0]}]",
                        f"{inst}: tiers are sized in contracts; give the price to convert them to notional "
                        "with --price INSTID=PRICE")
        per_contract = ct_val * prices[inst]
        rows = sorted(rows_in, key=lambda r: _num(where, f"{path}[{r[0]}].tier", _get(where, f"{path}[{r[0]}]",
                                                                                        r[1], "tier"), lo=1))
        floor, cap, lev, mmr = [], [], [], []
        prev = 0.0
        for i, it in rows:
            q = f"{path}[{i}]"
            _num(where, f"{q}.minSz", _get(where, q, it, "minSz"))
            max_sz = _num(where, f"{q}.maxSz", _get(where, q, it, "maxSz"), lo_open=True)
            # OKX prints whole-contract bounds (1-2000, 2001-4000): a tier starts where the last ended
            floor.append(prev)
            cap.append(max_sz * per_contract)
            prev = max_sz * per_contract
            lev.append(_num(where, f"{q}.maxLever", _get(where, q, it, "maxLever"), lo=1, hi=1000))
            mmr.append(_num(where, f"{q}.mmr", _get(where, q, it, "mmr"), lo_open=True, hi=1))
        c = _flat_ladder(where, path, inst, floor, cap, lev, mmr)
        base, quote = split_symbol(inst)
        out.append(dataclasses.replace(c, base=base, quote=quote or "USDT"))
    return ImportedTables("okx-position-tiers", "okx", tuple(out))


def _flat_ladder(where: str, path: str, symbol: str, floor: list[float], cap: list[float], lev: list[float],
                 mmr: list[float]) -> ImportedContract:
    """A ladder whose maintenance margin is MMR x notional with no deduction (OKX)."""
    try:
        table = TierTable.from_rows(floor=floor, cap=cap, max_leverage=lev, mmr=mmr, cum=[0.0] * len(floor))
        table.check_ladder()
    except InvalidInputError as exc:
        raise _fail(where, path, f"{symbol}: {exc.field}: {exc.reason}") from None
    return ImportedContract(symbol=symbol, base=symbol, quote="USDT", floor=tuple(floor), cap=tuple(cap),
                            max_leverage=tuple(lev), mmr=tuple(mmr), cum=(0.0,) * len(floor))


def parse_hyperliquid_meta(data: Any, where: str) -> ImportedTables:
    """Hyperliquid ``POST /info {"type": "meta"}`` (or ``metaAndAssetCtxs``, whose first element it is).

    Each ``universe`` entry names its ``marginTableId``; ``marginTables`` holds ``[id, {marginTiers:
    [{lowerBound, maxLeverage}]}]``. A table id below 50 that the response does not list is one
    tier at that leverage (Hyperliquid's docs). MMR is 1 / (2 x max leverage) and the deduction the
    recursion; the lot is ``10^-szDecimals`` and the price tick ``10^-(6 - szDecimals)`` (prices
    have at most 6 - szDecimals decimals). Delisted assets are skipped. References:
    https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers,
    https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/tick-and-lot-size
    """
    if isinstance(data, list) and data and isinstance(data[0], dict) and "universe" in data[0]:
        data = data[0]  # metaAndAssetCtxs: [meta, assetCtxs]
    universe = _list(where, "universe", _get(where, "", data, "universe"))
    tables: dict[int, list[tuple[float, float]]] = {}
    for i, entry in enumerate(_list(where, "marginTables", data.get("marginTables", []))):
        p = f"marginTables[{i}]"
        if not isinstance(entry, list) or len(entry) != 2:
            raise _fail(where, p, "expected [id, {marginTiers: [...]}]")
        tid = int(_num(where, f"{p}[0]", entry[0]))
        tiers = _list(where, f"{p}[1].marginTiers", _get(where, f"{p}[1]", entry[1], "marginTiers"))
        if not tiers:
            raise _fail(where, f"{p}[1].marginTiers", "no tiers")
        tables[tid] = [(_num(where, f"{p}[1].marginTiers[{j}].lowerBound", _get(where, f"{p}[1].marginTiers[{j}]", t,
                                                                                  "lowerBound")),
                        _num(where, f"{p}[1].marginTiers[{j}].maxLeverage",
                             _get(where, f"{p}[1].marginTiers[{j}]", t, "maxLeverage"), lo=1, hi=1000))
                       for j, t in enumerate(tiers)]
    out, skipped = [], []
    for i, asset in enumerate(universe):
        p = f"universe[{i}]"
        name = _str(where, f"{p}.name", _get(where, p, asset, "name"))
        if asset.get("isDelisted"):
            skipped.append(f"{name} (delisted)")
            continue
        sz = int(_num(where, f"{p}.szDecimals", _get(where, p, asset, "szDecimals"), hi=10))
        max_lev = _num(where, f"{p}.maxLeverage", _get(where, p, asset, "maxLeverage"), lo=1, hi=1000)
        tid = int(_num(where, f"{p}.marginTableId", asset.get("marginTableId", max_lev)))
        if tid in tables:
            rows = sorted(tables[tid])
        elif tid < 50:
            rows = [(0.0, float(tid))]
        else:
            raise _fail(where, f"{p}.marginTableId", f"{name}: margin table {tid} is not in marginTables")
        floor = [lb for lb, _ in rows]
        cap = [*floor[1:], math.inf]
        lev = [min(lv, max_lev) for _, lv in rows]
        mmr = [1.0 / (2.0 * lv) for lv in lev]
        c = _ladder(where, f"{p}", symbol=name, floor=floor, cap=cap, lev=lev, mmr=mmr, cum=[None] * len(rows),
                    tick=10.0 ** -(6 - sz) if sz <= 6 else None, lot=10.0 ** -sz)
        out.append(dataclasses.replace(c, quote="USDC"))
    return ImportedTables("hyperliquid-meta", "hyperliquid", tuple(out), skipped=tuple(skipped),
                          mmr_from_max_leverage=True)


#: The formats, by name: each reads the decoded JSON and the file name (for messages).
FORMATS: Final[dict[str, Callable[..., ImportedTables]]] = {
    "binance-brackets": parse_binance_brackets,
    "binance-coinm-brackets": parse_binance_coinm_brackets,
    "ccxt-tiers": parse_ccxt_tiers,
    "bybit-risk-limit": parse_bybit_risk_limit,
    "okx-position-tiers": parse_okx_position_tiers,
    "hyperliquid-meta": parse_hyperliquid_meta,
}


def detect_format(data: Any) -> str | None:
    """The format a decoded response has, from its shape alone; None when none fits.

    >>> detect_format({"retCode": 0, "result": {"list": []}}), detect_format({"universe": []})
    ('bybit-risk-limit', 'hyperliquid-meta')
    """
    if isinstance(data, list) and data and isinstance(data[0], dict):
        if "brackets" in data[0]:
            return _binance_kind(data[0])
        if "universe" in data[0]:
            return "hyperliquid-meta"
        if "riskLimitValue" in data[0]:
            return "bybit-risk-limit"
        if "instId" in data[0] and "maxSz" in data[0]:
            return "okx-position-tiers"
    if isinstance(data, dict):
        if "brackets" in data and ("symbol" in data or "pair" in data):
            return _binance_kind(data)
        if "universe" in data:
            return "hyperliquid-meta"
        if isinstance(data.get("result"), dict) and "list" in data["result"]:
            return "bybit-risk-limit"
        if "data" in data and ("code" in data or "msg" in data):
            return "okx-position-tiers"
        if data and all(isinstance(v, list) for v in data.values()) and all("/" in str(k) for k in data):
            return "ccxt-tiers"
    return None


def _binance_kind(item: dict[str, Any]) -> str:
    """USDⓈ-M brackets carry ``notionalCap``, COIN-M ones ``qtyCap`` (in the coin)."""
    first = item.get("brackets")
    first = first[0] if isinstance(first, list) and first and isinstance(first[0], dict) else {}
    return "binance-coinm-brackets" if "qtyCap" in first or "pair" in item else "binance-brackets"


def read_response(path: Path | str, *, format: str | None = None, prices: Mapping[str, float] | None = None,
                  contract_values: Mapping[str, float] | None = None) -> ImportedTables:
    """Read a saved response file and parse it (``format`` None: detected from the content)."""
    where = str(path)
    try:
        data = read_json_file(path, max_bytes=MAX_IMPORT_BYTES, what="response file")
    except FileFormatError as exc:
        raise TierImportError(where, "(file)", exc.problem) from None
    fmt_name = format or detect_format(data)
    if fmt_name is None:
        raise TierImportError(where, "(top level)", "not a response MarginLab can import; expected one of "
                              f"{', '.join(FORMATS)} (give --format to say which)")
    if fmt_name not in FORMATS:
        raise TierImportError(where, "(format)", f"{fmt_name!r} is not one of {', '.join(FORMATS)}")
    try:
        if fmt_name == "okx-position-tiers":
            return parse_okx_position_tiers(data, where, prices=prices, contract_values=contract_values)
        return FORMATS[fmt_name](data, where)
    except RecursionError:
        raise TierImportError(where, "(top level)", "nested too deeply to be read") from None


# ---------------------------------------------------------------------------------------------
# Into a profile


def native_symbol(exchange: str | None, c: ImportedContract) -> str:
    """The contract's name as the target profile spells it (Binance SOLUSDT, OKX SOL-USDT-SWAP, Hyperliquid SOL)."""
    if exchange == "hyperliquid":
        return c.base if "/" in c.symbol else c.symbol
    if exchange == "okx":
        return f"{c.base}-{c.quote}-SWAP"
    if "/" in c.symbol or "-" in c.symbol:
        return f"{c.base}{c.quote}"
    return c.symbol


def contract_rows(c: ImportedContract, *, mmr_from_max_leverage: bool) -> list[dict[str, Any]]:
    """The tier tables of the profile format for one contract (``mmr`` left out when derived)."""
    rows = []
    for k in range(len(c.floor)):
        row: dict[str, Any] = {"floor": c.floor[k], "cap": "inf" if math.isinf(c.cap[k]) else c.cap[k],
                               "max_leverage": c.max_leverage[k]}
        if not mmr_from_max_leverage:
            row["mmr"] = c.mmr[k]
            row["maintenance_amount"] = round(c.cum[k], 8)
        rows.append(row)
    return rows


def _raw_contract(profile: Profile | None, symbol: str) -> dict[str, Any]:
    """The previous profile's keys for ``symbol`` other than its tiers (tick, lot, fee), if any."""
    if profile is None or symbol not in profile.contracts:
        return {}
    c = profile.contracts[symbol]
    out: dict[str, Any] = {"quote": c.quote, "tick_size": c.tick_size, "lot_size": c.lot_size}
    if c.is_inverse:
        out.update(type=c.type.value, size=c.size, settle=c.settle)
    if c.liquidation_fee is not None:
        out["liquidation_fee"] = c.liquidation_fee
    return out


def _profile_raw(profile: Profile) -> dict[str, Any]:
    """A loaded profile back as the mapping of docs/profiles.md (every contract parsed)."""
    r = profile.rules
    rules = {f.name: (v.value if hasattr(v, "value") else v)
             for f in dataclasses.fields(Rules) for v in [getattr(r, f.name)] if v is not None}
    contracts = {}
    for symbol in profile.symbols:
        c = profile.contracts[symbol]
        t = c.tiers
        imported = ImportedContract(symbol=symbol, base=symbol, quote=c.quote, floor=tuple(t.floor.tolist()),
                                    cap=tuple(t.cap.tolist()), max_leverage=tuple(t.max_leverage.tolist()),
                                    mmr=tuple(t.mmr.tolist()), cum=tuple(t.cum.tolist()))
        contracts[symbol] = {**_raw_contract(profile, symbol),
                             "tiers": contract_rows(imported, mmr_from_max_leverage=r.mmr_from_max_leverage)}
    return {"schema_version": PROFILE_SCHEMA_VERSION, "id": profile.id, "name": profile.name,
            "as_of": profile.as_of, "source": profile.source, "notes": profile.notes, "rules": rules,
            "contracts": contracts}


@dataclass(frozen=True, slots=True)
class TierChange:
    """One tier whose rate or leverage an import changed."""

    index: int
    old_mmr: float | None
    new_mmr: float | None
    old_max_leverage: float | None
    new_max_leverage: float | None
    old_cap: float | None = None
    new_cap: float | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote and what changed against the profile it replaced or extended."""

    profile_id: str
    path: Path
    backup: Path | None
    format: str
    added: tuple[str, ...]
    changed: Mapping[str, tuple[TierChange, ...]]
    unchanged: int
    skipped: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def summary_lines(self) -> list[str]:
        """People's summary: symbols added, symbols whose tiers changed (old -> new), where written."""
        lines = [f"Imported {self.format} into profile {self.profile_id!r}: {self.path}"]
        if self.backup is not None:
            lines.append(f"  the previous file was kept as {self.backup.name}")
        lines.append(f"  {len(self.added)} symbol{'s' * (len(self.added) != 1)} added"
                     + (": " + ", ".join(self.added[:40]) + (", …" if len(self.added) > 40 else "")
                        if self.added else ""))
        lines.append(f"  {len(self.changed)} symbol{'s' * (len(self.changed) != 1)} with changed tiers"
                     + (":" if self.changed else ""))
        for symbol, changes in self.changed.items():
            for ch in changes:
                line = (f"    {symbol} tier {ch.index + 1}: MMR {_pct(ch.old_mmr)} -> {_pct(ch.new_mmr)}, "
                        f"max leverage {_lev(ch.old_max_leverage)} -> {_lev(ch.new_max_leverage)}")
                if None not in (ch.old_cap, ch.new_cap) and ch.old_cap != ch.new_cap:
                    line += f", cap {_cap(ch.old_cap)} -> {_cap(ch.new_cap)}"
                lines.append(line)
        lines.append(f"  {self.unchanged} symbol{'s' * (self.unchanged != 1)} unchanged")
        if self.skipped:
            lines.append(f"  {len(self.skipped)} left out: " + ", ".join(self.skipped[:20])
                         + (", …" if len(self.skipped) > 20 else ""))
        return lines


def _pct(x: float | None) -> str:
    return "(none)" if x is None else fmt.pct(x, 3)


def _cap(x: float | None) -> str:
    return "∞" if x is None or math.isinf(x) else fmt.num(x)


def _lev(x: float | None) -> str:
    return "(none)" if x is None else f"{x:g}x"


def _tier_changes(old: Any, new: ImportedContract) -> tuple[TierChange, ...]:
    """Tiers whose bounds, rate or leverage differ (old: a TierTable)."""
    n = max(len(old), len(new.floor))
    out = []
    for k in range(n):
        o = (float(old.floor[k]), float(old.cap[k]), float(old.mmr[k]), float(old.max_leverage[k])) \
            if k < len(old) else None
        w = (new.floor[k], new.cap[k], new.mmr[k], new.max_leverage[k]) if k < len(new.floor) else None
        if o is None or w is None or any(not math.isclose(a, b, rel_tol=1e-12) and a != b
                                         for a, b in zip(o, w, strict=True)):
            out.append(TierChange(k, None if o is None else o[2], None if w is None else w[2],
                                  None if o is None else o[3], None if w is None else w[3],
                                  None if o is None else o[1], None if w is None else w[1]))
    return tuple(out)


def _backup_path(path: Path, today: dt.date) -> Path:
    target = path.with_name(f"{path.name}.{today.isoformat()}.bak")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{today.isoformat()}-{n}.bak")
        n += 1
    return target


def import_tables(tables: ImportedTables, *, into: str | None = None, directory: Path, today: dt.date,
                  as_of: str | None = None, source: str | None = None,
                  base_profiles: Mapping[str, Profile] | None = None) -> ImportResult:
    """Write ``tables`` as the profile ``into`` (default: the format's exchange) in ``directory``.

    The profile keeps the rules, name and other contracts of the profile it updates: the one of
    that id in ``directory`` if there is one, else ``base_profiles[into]`` (the shipped one), else
    the shipped profile of the format's exchange; imported symbols replace or extend its tables
    (keeping their tick, lot and clearance fee). The file is ``<id>.json``, written atomically; a
    previous ``<id>.json`` or ``<id>.toml`` in ``directory`` is kept as ``NAME.YYYY-MM-DD.bak``.

    Raises
    ------
    TierImportError
        when ``into`` is missing for a format that does not name its exchange.
    """
    pid = into or tables.exchange
    if pid is None:
        raise TierImportError("--into", "(profile)", f"a {tables.format} file does not say which exchange it is "
                              "from; give --into ID (for example --into binance)")
    directory = Path(directory)
    base_profiles = base_profiles or {}
    existing_files = [p for p in (directory / f"{pid}.json", directory / f"{pid}.toml") if p.is_file()]
    previous: Profile | None = None
    for p in existing_files:
        try:
            previous = load_profile(p)
            break
        except ProfileError:
            continue  # a damaged file of ours is kept aside below and replaced
    base = previous or base_profiles.get(pid) or base_profiles.get(tables.exchange or "")
    if base is not None:
        raw = _profile_raw(base)
        raw.update(id=pid, name=base.name if base.id == pid else pid)
    else:
        raw = {"schema_version": PROFILE_SCHEMA_VERSION, "id": pid, "name": pid, "notes": "",
               "rules": dict(DEFAULT_RULES.get(tables.format, {})), "contracts": {}}
        if tables.mmr_from_max_leverage:
            raw["rules"]["mmr_from_max_leverage"] = True
    mmr_rule = bool(raw["rules"].get("mmr_from_max_leverage", False))
    exchange = (base.id if base is not None and base.id in ("binance", "bybit", "okx", "hyperliquid",
                                                            "binance-coinm", "bybit-inverse")
                else tables.exchange) or pid
    added, changed, unchanged = [], {}, 0
    contracts: dict[str, Any] = raw["contracts"]
    for c in tables.contracts:
        symbol = native_symbol(exchange, c)
        old = base.contracts[symbol] if base is not None and symbol in base.contracts else None
        keys: dict[str, Any] = (_raw_contract(base, symbol) if old is not None else
                                {"quote": c.quote, **c.contract_keys()})
        if c.tick_size is not None:
            keys["tick_size"] = c.tick_size
        keys.setdefault("tick_size", DEFAULT_TICK)
        if c.lot_size is not None:
            keys["lot_size"] = c.lot_size
        keys.setdefault("lot_size", DEFAULT_LOT)
        contracts[symbol] = {**keys, "tiers": contract_rows(c, mmr_from_max_leverage=mmr_rule)}
        if old is None:
            added.append(symbol)
        else:
            diff = _tier_changes(old.tiers, c)
            if diff:
                changed[symbol] = diff
            else:
                unchanged += 1
    raw["as_of"] = as_of or today.isoformat()
    raw["source"] = source or f"the saved response of {tables_source_name(tables)}"
    if not contracts:
        raise TierImportError("(file)", "(contracts)", "the file holds no contract MarginLab can use")
    text = json.dumps(raw, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    target = directory / f"{pid}.json"
    # What is about to be written is checked exactly as the loader will read it back.
    parse_profile(json.loads(text), path=str(target), default_id=pid)
    backup = None
    directory.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        backup = _backup_path(target, today)
        backup.write_bytes(target.read_bytes())
    atomic_write_text(target, text)
    for p in existing_files:
        if p != target and p.exists():  # the TOML it replaces would clash on its id
            moved = _backup_path(p, today)
            os.replace(p, moved)
            backup = backup or moved
    return ImportResult(profile_id=pid, path=target, backup=backup, format=tables.format, added=tuple(added),
                        changed=changed, unchanged=unchanged, skipped=tables.skipped, data=raw)


def tables_source_name(tables: ImportedTables) -> str:
    return {"binance-brackets": "Binance GET /fapi/v1/leverageBracket",
            "binance-coinm-brackets": "Binance GET /dapi/v2/leverageBracket",
            "ccxt-tiers": "a ccxt fetch_leverage_tiers() dump",
            "bybit-risk-limit": "Bybit GET /v5/market/risk-limit" + (
                "?category=inverse" if tables.exchange == "bybit-inverse" else ""),
            "okx-position-tiers": "OKX GET /api/v5/public/position-tiers",
            "hyperliquid-meta": "Hyperliquid POST /info meta"}[tables.format]


def parse_assignments(flag: str, values: Sequence[str]) -> dict[str, float]:
    """``["BTC-USDT-SWAP=65000"]`` -> ``{"BTC-USDT-SWAP": 65000.0}``; a bad one names ``flag``."""
    out: dict[str, float] = {}
    for v in values:
        name, sep, num = v.partition("=")
        try:
            x = float(num)
        except ValueError:
            x = math.nan
        if not sep or not name.strip() or not math.isfinite(x) or x <= 0:
            raise InvalidInputError(flag, f"expected INSTID=NUMBER with a number > 0, got {v!r}")
        out[name.strip()] = x
    return out
