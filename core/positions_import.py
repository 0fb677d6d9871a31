"""Read an account's open positions from a response saved from an exchange's private API.

Nothing here touches the network or reads a key: the trader saves the response themselves (README
shows the one request per exchange) and ``marginlab-cli positions FILE`` or File > Import
positions… reads it. Five formats, detected from the content when none is named:

============================ ===================================================================
format                       response(s)
============================ ===================================================================
``binance-position-risk``    ``GET /fapi/v2/positionRisk`` or ``/fapi/v3/positionRisk`` (a list);
                             for cross positions also ``GET /fapi/v2/account`` (its ``assets``
                             give the cross wallet)
``bybit-positions``          ``GET /v5/position/list`` (``result.list``); for cross also
                             ``GET /v5/account/wallet-balance``; ``GET /v5/account/info`` says
                             whether a unified account is in isolated margin mode
``okx-positions``            ``GET /api/v5/account/positions`` (``data``); for cross also
                             ``GET /api/v5/account/balance``
``hyperliquid-state``        ``POST /info {"type": "clearinghouseState", "user": ADDRESS}``
                             (``assetPositions``, ``crossMarginSummary``)
``ccxt-positions``           a JSON dump of ccxt's ``fetch_positions()`` (a list of unified
                             positions, each with the exchange's own record in ``info``)
============================ ===================================================================

Responses that belong together may come as two files or as one JSON object holding both (for
example ``{"positionRisk": [...], "account": {...}}``): every top-level value of an object is
looked at. Each format's fields and their meaning are in its parser's docstring, with the
documentation page it follows.

What is read per position: symbol (the exchange's name), side, size in base units, entry, mark,
leverage, margin mode, the isolated margin (without unrealised PnL), and the exchange's own
figures: liquidation price (None where it shows none), maintenance margin and tier maximum
where the response has them. Positions of size zero are skipped. A file that is not one of these
shapes, or a value out of range, is refused with ONE :class:`PositionsImportError` naming the
file, the JSON path and the problem.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from core.errors import FileFormatError, ScenarioError
from core.model import MarginMode, Side
from core.persistence import read_json_file
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY

#: Largest response file read (an account with every listed symbol is well under 1 MB).
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
#: Settlement currencies of linear contracts: a margin or settle currency outside these is a coin.
_STABLE: Final = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD", "USDE", "USDH"})


class PositionsImportError(ScenarioError):
    """A response that cannot be read: ``file: json.path: problem`` on one line."""


@dataclass(frozen=True, slots=True)
class ImportedPosition:
    """One open position as the exchange's response states it.

    ``qty`` is in base units (contracts times the contract size), ``margin`` the isolated margin
    without unrealised PnL (None for a cross position), ``liquidation_price`` None where the
    exchange shows none. ``hedge_leg`` marks one leg of a hedge-mode pair (Binance
    ``positionSide`` LONG/SHORT, Bybit ``positionIdx`` 1/2, OKX ``posSide`` long/short);
    ``inverse`` a coin-margined contract. ``where`` is the record's JSON path in its file.
    """

    symbol: str
    side: Side
    qty: float
    entry: float
    mark: float
    leverage: float
    mode: MarginMode
    margin: float | None
    liquidation_price: float | None
    maintenance_margin: float | None = None
    max_leverage: float | None = None
    inverse: bool = False
    hedge_leg: bool = False
    where: str = ""

    @property
    def upnl(self) -> float:
        """``side x qty x (mark - entry)``, the same uPnL the engine values the position at."""
        return self.side.sign * self.qty * (self.mark - self.entry)


@dataclass(frozen=True, slots=True)
class ImportedAccount:
    """What the response(s) hold: the format, the exchange, the positions and the cross wallet.

    ``wallet`` is the cross collateral without unrealised PnL (MarginLab's ``Account.wallet_usd``);
    None where the files do not give it (a positions response saved without the account's).
    ``account_maintenance`` is the cross maintenance margin the exchange reports for the account.
    """

    format: str
    exchange: str | None
    positions: tuple[ImportedPosition, ...]
    wallet: float | None
    source: str
    time_ms: int | None = None
    account_maintenance: float | None = None
    notes: tuple[str, ...] = ()
    skipped: int = 0  # records of size zero


# ---------------------------------------------------------------------------------------------
# Reading values: exchanges send numbers as strings ("0.004"), and "" or "0" for "none"


@dataclass(slots=True)
class _Reader:
    """Reads one decoded file; every problem names the file and the JSON path."""

    where: str
    notes: list[str] = field(default_factory=list)
    skipped: int = 0  # records of size zero

    def records(self, path: str, items: Any, size_key: str) -> Iterator[tuple[str, Mapping[str, Any], float]]:
        """``(path, record, signed size)`` of every record of the list at ``path`` whose size is not zero."""
        for i, rec in enumerate(self.list(path, items)):
            p = f"{path}[{i}]"
            rec = self.obj(p, rec)
            size = self.field(p, rec, size_key, hi=MAX_QTY)
            if size == 0:
                self.skipped += 1
                continue
            yield p, rec, size

    def fail(self, path: str, problem: str) -> PositionsImportError:
        return PositionsImportError(self.where, path or "(top level)", problem[:300])

    def obj(self, path: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {type(value).__name__}")
        return value

    def list(self, path: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {type(value).__name__}")
        return value

    def get(self, path: str, obj: Mapping[str, Any], key: str) -> Any:
        if key not in obj:
            raise self.fail(_join(path, key), "missing")
        return obj[key]

    def num(self, path: str, value: Any, *, lo: float = -math.inf, lo_open: bool = False,
            hi: float = MAX_AMOUNT) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(path, f"expected a number, got {value!r}")
        try:
            x = float(value)
        except (ValueError, OverflowError):
            raise self.fail(path, f"expected a number, got {value!r}") from None
        if not math.isfinite(x) or x < lo or (lo_open and x == lo) or abs(x) > hi:
            low = "" if lo == -math.inf else f"{'>' if lo_open else '>='} {lo:g} and "
            raise self.fail(path, f"must be a finite number {low}at most {hi:g} in size, got {value!r}")
        return x

    def field(self, path: str, obj: Mapping[str, Any], key: str, **kw: Any) -> float:
        return self.num(_join(path, key), self.get(path, obj, key), **kw)

    def opt(self, path: str, obj: Mapping[str, Any], key: str, *, hi: float = MAX_AMOUNT) -> float | None:
        """An optional number where ``null``, ``""`` and ``0`` mean "none" (a liquidation price)."""
        v = obj.get(key)
        if v is None or v == "":
            return None
        x = self.num(_join(path, key), v, lo=0, hi=hi)
        return x if x > 0 else None

    def text(self, path: str, obj: Mapping[str, Any], key: str) -> str:
        v = self.get(path, obj, key)
        if not isinstance(v, str) or not v.strip() or len(v) > 100:
            raise self.fail(_join(path, key), f"expected a name, got {v!r}")
        return v.strip()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _cross_linear(positions: Sequence[ImportedPosition]) -> bool:
    return any(x.mode is MarginMode.CROSS and not x.inverse for x in positions)


def _side(sign: float) -> Side:
    return Side.LONG if sign > 0 else Side.SHORT


def _pieces(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """The document itself and, for an object, each of its top-level values (responses saved together)."""
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield _join(path, str(k)), v


# ---------------------------------------------------------------------------------------------
# The formats. Each takes the decoded files as [(file name, document)] and returns one account.


Docs = Sequence[tuple[str, Any]]


def _find(docs: Docs, shape: Callable[[Any], bool]) -> list[tuple[_Reader, str, Any]]:
    return [(_Reader(where), path, value) for where, doc in docs for path, value in _pieces(doc) if shape(value)]


def _only(found: list[tuple[_Reader, str, Any]], docs: Docs, what: str) -> tuple[_Reader, str, Any]:
    if not found:
        raise PositionsImportError(", ".join(w for w, _ in docs), "(top level)", f"no {what} found")
    return found[0]


def _is_hl_state(v: Any) -> bool:
    return isinstance(v, dict) and "assetPositions" in v


def parse_hyperliquid_state(docs: Docs) -> ImportedAccount:
    """Hyperliquid ``POST /info {"type": "clearinghouseState", "user": ADDRESS}``.

    Each ``assetPositions[i].position`` gives ``coin``, ``szi`` (signed size), ``entryPx``,
    ``positionValue`` (size x mark: the mark is ``positionValue / |szi|``), ``leverage`` ``{type:
    cross|isolated, value, rawUsd}``, ``liquidationPx`` (null: none), ``marginUsed`` and
    ``maxLeverage``. An isolated position's margin is ``rawUsd + szi x entryPx`` (its USD balance
    plus the position's cost; ``marginUsed`` adds the uPnL). The cross wallet is
    ``crossMarginSummary.accountValue`` minus the cross positions' uPnL; the account's cross
    maintenance margin is ``crossMaintenanceMarginUsed``. Reference:
    https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals
    """
    r, base, state = _only(_find(docs, _is_hl_state), docs, "clearinghouseState (assetPositions)")
    items = r.list(_join(base, "assetPositions"), state["assetPositions"])
    out: list[ImportedPosition] = []
    for i, item in enumerate(items):
        at = f"{_join(base, 'assetPositions')}[{i}]"
        p = f"{at}.position"
        pos = r.obj(p, r.get(at, r.obj(at, item), "position"))
        szi = r.field(p, pos, "szi", hi=MAX_QTY)
        if szi == 0:
            r.skipped += 1
            continue
        qty = abs(szi)
        entry = r.field(p, pos, "entryPx", lo=0, lo_open=True, hi=MAX_PRICE)
        value = r.field(p, pos, "positionValue", lo=0, lo_open=True)
        lev = r.obj(_join(p, "leverage"), r.get(p, pos, "leverage"))
        kind = lev.get("type")
        if kind not in ("cross", "isolated"):
            raise r.fail(_join(p, "leverage.type"), f"expected 'cross' or 'isolated', got {kind!r}")
        leverage = r.field(_join(p, "leverage"), lev, "value", lo=1, hi=1000)
        margin = None
        if kind == "isolated":
            if "rawUsd" in lev:
                margin = r.field(_join(p, "leverage"), lev, "rawUsd") + szi * entry
            else:
                margin = r.field(p, pos, "marginUsed") - r.field(p, pos, "unrealizedPnl")
            if margin <= 0:
                raise r.fail(_join(p, "leverage.rawUsd"), f"gives an isolated margin of {margin:g}; expected > 0")
        out.append(ImportedPosition(
            symbol=r.text(p, pos, "coin"), side=_side(szi), qty=qty, entry=entry, mark=value / qty,
            leverage=leverage, mode=MarginMode(kind), margin=margin,
            liquidation_price=r.opt(p, pos, "liquidationPx", hi=MAX_PRICE),
            max_leverage=r.opt(p, pos, "maxLeverage", hi=1000), where=p))
    cross = [x for x in out if x.mode is MarginMode.CROSS]
    summary = state.get("crossMarginSummary")
    if summary is None and not any(x.mode is MarginMode.ISOLATED for x in out):
        summary = state.get("marginSummary")  # with no isolated position the two are the same
    wallet = None
    if isinstance(summary, dict) and "accountValue" in summary:
        value = r.field(_join(base, "crossMarginSummary"), summary, "accountValue", lo=0)
        wallet = value - math.fsum(x.upnl for x in cross)
    elif cross:
        r.notes.append("the response has no crossMarginSummary.accountValue: the cross wallet is unknown")
    mm = state.get("crossMaintenanceMarginUsed")
    time_ms = state.get("time")
    return ImportedAccount(
        format="hyperliquid-state", exchange="hyperliquid", positions=tuple(out), wallet=wallet,
        source=", ".join(w for w, _ in docs), skipped=r.skipped,
        time_ms=int(r.num("time", time_ms, lo=0, hi=1e15)) if time_ms is not None else None,
        account_maintenance=None if mm is None else r.num(_join(base, "crossMaintenanceMarginUsed"), mm, lo=0),
        notes=tuple(r.notes))


def _is_binance_positions(v: Any) -> bool:
    return (isinstance(v, list) and bool(v) and isinstance(v[0], dict)
            and "positionAmt" in v[0] and "liquidationPrice" in v[0])


def _is_binance_account(v: Any) -> bool:
    return isinstance(v, dict) and ("totalCrossWalletBalance" in v or ("assets" in v and "positions" in v))


def parse_binance_position_risk(docs: Docs) -> ImportedAccount:
    """Binance USDⓈ-M ``GET /fapi/v2/positionRisk`` or ``/fapi/v3/positionRisk``, with ``GET /fapi/v2/account``.

    Per record: ``symbol``, ``positionAmt`` (signed), ``entryPrice``, ``markPrice``,
    ``liquidationPrice`` (``"0"``: none), ``positionSide`` (BOTH, or LONG / SHORT in hedge mode),
    ``isolatedWallet`` (the isolated margin, without uPnL). v2 adds ``leverage`` and
    ``marginType``; v3 has neither but ``maintMargin`` and ``positionInitialMargin``, so its
    leverage is ``|notional| / positionInitialMargin`` and its margin type isolated exactly when
    ``isolatedWallet`` is above zero. A COIN-M record (``BTCUSD_PERP``, ``notionalValue``) is
    marked inverse. The cross wallet is the account's ``assets[USDT].crossWalletBalance`` (else
    ``totalCrossWalletBalance``). References:
    https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V2,
    https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3,
    https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Information-V2
    """
    r, base, items = _only(_find(docs, _is_binance_positions), docs, "positionRisk list (positionAmt, liquidationPrice)")
    out: list[ImportedPosition] = []
    margin_asset = "USDT"
    for p, rec, amt in r.records(base, items, "positionAmt"):
        symbol = r.text(p, rec, "symbol")
        inverse = "_" in symbol or "notionalValue" in rec
        if "leverage" in rec:
            leverage = r.field(p, rec, "leverage", lo=1, hi=1000)
        else:
            im = r.field(p, rec, "positionInitialMargin", lo=0)
            notional = abs(r.field(p, rec, "notional"))
            if im <= 0:
                raise r.fail(_join(p, "positionInitialMargin"), "is 0: the leverage cannot be told (v3 has no "
                                                                 "leverage field; save /fapi/v2/positionRisk)")
            leverage = min(max(notional / im, 1.0), 1000.0)
        wallet_iso = r.num(_join(p, "isolatedWallet"), rec.get("isolatedWallet", 0), lo=0)
        kind = str(rec.get("marginType", "isolated" if wallet_iso > 0 else "cross")).lower()
        if kind not in ("cross", "isolated"):
            raise r.fail(_join(p, "marginType"), f"expected 'cross' or 'isolated', got {rec.get('marginType')!r}")
        if kind == "isolated" and wallet_iso <= 0:
            raise r.fail(_join(p, "isolatedWallet"), "an isolated position needs its margin above 0")
        margin_asset = str(rec.get("marginAsset", margin_asset))
        out.append(ImportedPosition(
            symbol=symbol, side=_side(amt), qty=abs(amt),
            entry=r.field(p, rec, "entryPrice", lo=0, lo_open=True, hi=MAX_PRICE),
            mark=r.field(p, rec, "markPrice", lo=0, lo_open=True, hi=MAX_PRICE), leverage=leverage,
            mode=MarginMode(kind), margin=wallet_iso if kind == "isolated" else None,
            liquidation_price=r.opt(p, rec, "liquidationPrice", hi=MAX_PRICE),
            maintenance_margin=r.opt(p, rec, "maintMargin"), inverse=inverse,
            hedge_leg=rec.get("positionSide", "BOTH") in ("LONG", "SHORT"), where=p))
    wallet = None
    accounts = _find(docs, _is_binance_account)
    if accounts:
        ra, pa, acct = accounts[0]
        assets = acct.get("assets")
        chosen = [a for a in assets if isinstance(a, dict) and a.get("asset") == margin_asset] if isinstance(
            assets, list) else []
        if chosen:
            wallet = ra.field(f"{pa}.assets[{assets.index(chosen[0])}]", chosen[0], "crossWalletBalance")
        else:
            wallet = ra.field(pa, acct, "totalCrossWalletBalance")
        if acct.get("multiAssetsMargin") is True:
            r.notes.append("the account is in multi-assets mode: its cross collateral is several assets at "
                           "their haircut values, which MarginLab does not model")
    elif _cross_linear(out):
        r.notes.append("cross positions need the cross wallet: save GET /fapi/v2/account beside the positions")
    return ImportedAccount(format="binance-position-risk", exchange="binance", positions=tuple(out), wallet=wallet,
                           source=", ".join(w for w, _ in docs), skipped=r.skipped, notes=tuple(r.notes))


def _result_list(v: Any, key: str) -> bool:
    if not isinstance(v, dict) or not isinstance(v.get("result"), dict):
        return False
    lst = v["result"].get("list")
    return isinstance(lst, list) and (not lst or (isinstance(lst[0], dict) and key in lst[0]))


def parse_bybit_positions(docs: Docs) -> ImportedAccount:
    """Bybit ``GET /v5/position/list``, with ``GET /v5/account/wallet-balance`` and ``/v5/account/info``.

    Per ``result.list`` record: ``symbol``, ``side`` (Buy / Sell), ``size``, ``avgPrice``,
    ``markPrice``, ``liqPrice`` (``""``: none), ``leverage``, ``positionBalance`` (the position's
    margin), ``positionMM``, ``tradeMode`` (0 cross, 1 isolated) and ``positionIdx`` (1 and 2: the
    legs of hedge mode). ``result.category`` ``inverse`` marks coin-margined contracts. A unified
    account reports ``tradeMode`` 0 for every position; its margin mode is ``marginMode`` of
    ``/v5/account/info`` (ISOLATED_MARGIN makes every position isolated). The cross wallet is the
    USDT ``walletBalance`` of ``wallet-balance``. References:
    https://bybit-exchange.github.io/docs/v5/position, https://bybit-exchange.github.io/docs/v5/account/wallet-balance,
    https://bybit-exchange.github.io/docs/v5/account/account-info
    """
    r, base, doc = _only(_find(docs, lambda v: _result_list(v, "avgPrice")), docs, "position list (result.list)")
    category = str(doc["result"].get("category", "linear"))
    infos = [v for _, _, v in _find(docs, lambda v: isinstance(v, dict) and isinstance(v.get("result"), dict)
                                    and "marginMode" in v["result"])]
    all_isolated = bool(infos) and infos[0]["result"]["marginMode"] == "ISOLATED_MARGIN"
    out: list[ImportedPosition] = []
    for p, rec, size in r.records(_join(base, "result.list"), doc["result"]["list"], "size"):
        side = rec.get("side")
        if side in ("", "None", None):  # Bybit lists a symbol without a position this way
            r.skipped += 1
            continue
        if side not in ("Buy", "Sell") or size < 0:
            raise r.fail(_join(p, "side" if size > 0 else "size"),
                         f"expected side 'Buy' or 'Sell' and a size above 0, got {side!r} and {size:g}")
        isolated = all_isolated or int(r.num(_join(p, "tradeMode"), rec.get("tradeMode", 0), lo=0, hi=1)) == 1
        symbol = r.text(p, rec, "symbol")
        out.append(ImportedPosition(
            symbol=symbol, side=Side.LONG if side == "Buy" else Side.SHORT, qty=size,
            entry=r.field(p, rec, "avgPrice", lo=0, lo_open=True, hi=MAX_PRICE),
            mark=r.field(p, rec, "markPrice", lo=0, lo_open=True, hi=MAX_PRICE),
            leverage=r.field(p, rec, "leverage", lo=1, hi=1000),
            mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
            margin=r.field(p, rec, "positionBalance", lo=0, lo_open=True) if isolated else None,
            liquidation_price=r.opt(p, rec, "liqPrice", hi=MAX_PRICE), maintenance_margin=r.opt(p, rec, "positionMM"),
            inverse=category == "inverse", hedge_leg=rec.get("positionIdx") in (1, 2, "1", "2"), where=p))
    wallet = None
    wallets = _find(docs, lambda v: _result_list(v, "coin"))
    if wallets:
        rw, pw, wdoc = wallets[0]
        for j, acct in enumerate(wdoc["result"]["list"]):
            coins = acct.get("coin", []) if isinstance(acct, dict) else []
            for k, c in enumerate(coins):
                if isinstance(c, dict) and c.get("coin") == "USDT":
                    wallet = rw.field(f"{_join(pw, 'result.list')}[{j}].coin[{k}]", c, "walletBalance")
    elif _cross_linear(out):
        r.notes.append("cross positions need the wallet: save GET /v5/account/wallet-balance beside the positions"
                       + ("" if infos else "; a unified account in isolated margin mode reports tradeMode 0 too: "
                          "save GET /v5/account/info (marginMode)"))
    return ImportedAccount(format="bybit-positions", exchange="bybit", positions=tuple(out), wallet=wallet,
                           source=", ".join(w for w, _ in docs), skipped=r.skipped, notes=tuple(r.notes))


def _data_list(v: Any, key: str) -> bool:
    return (isinstance(v, dict) and isinstance(v.get("data"), list) and bool(v["data"])
            and isinstance(v["data"][0], dict) and key in v["data"][0])


def parse_okx_positions(docs: Docs, *, contract_values: Mapping[str, float] | None = None) -> ImportedAccount:
    """OKX ``GET /api/v5/account/positions``, with ``GET /api/v5/account/balance`` for cross.

    Per ``data`` record: ``instId`` (``BTC-USDT-SWAP``), ``instType``, ``mgnMode`` (cross /
    isolated), ``posSide`` (net, or long / short in long/short mode), ``pos`` (contracts; signed
    in net mode), ``avgPx``, ``markPx``, ``liqPx`` (``""``: none), ``lever``, ``margin`` (the
    isolated margin), ``mmr`` (the maintenance margin) and ``ccy`` (the margin currency: a coin
    for inverse contracts). A size in base units needs the contract value (``ctVal`` of ``GET
    /api/v5/public/instruments``): from ``contract_values``, the record's own ``ctVal``, or else
    ``notionalUsd / markPx`` (noted). The cross wallet is the margin currency's ``cashBal`` in the
    balance's ``details``. Reference: https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-positions
    """
    r, base, doc = _only(_find(docs, lambda v: _data_list(v, "instId") and "avgPx" in v["data"][0]), docs,
                         "positions (data with instId, avgPx)")
    contract_values = contract_values or {}
    out: list[ImportedPosition] = []
    ccy = "USDT"
    for p, rec, pos in r.records(_join(base, "data"), doc["data"], "pos"):
        inst = r.text(p, rec, "instId")
        pos_side = rec.get("posSide", "net")
        sign = pos if pos_side == "net" else (1.0 if pos_side == "long" else -1.0)
        mark = r.field(p, rec, "markPx", lo=0, lo_open=True, hi=MAX_PRICE)
        parts = inst.split("-")
        margin_ccy = str(rec.get("ccy", parts[1] if len(parts) > 1 else "USDT"))
        inverse = margin_ccy not in _STABLE or (len(parts) > 1 and parts[1] == "USD")
        if inst in contract_values:
            ct_val = contract_values[inst]
        elif "ctVal" in rec:
            ct_val = r.field(p, rec, "ctVal", lo=0, lo_open=True)
        else:
            ct_val = r.field(p, rec, "notionalUsd", lo=0, lo_open=True) / mark / abs(pos)
            r.notes.append(f"{inst}: contract value taken as notionalUsd / markPx / pos = {ct_val:.6g} (give "
                           f"--contract-value {inst}=VALUE, the instrument's ctVal, to be exact)")
        kind = rec.get("mgnMode")
        if kind not in ("cross", "isolated"):
            raise r.fail(_join(p, "mgnMode"), f"expected 'cross' or 'isolated', got {kind!r}")
        if not inverse:
            ccy = margin_ccy
        out.append(ImportedPosition(
            symbol=inst, side=_side(sign), qty=abs(pos) * ct_val,
            entry=r.field(p, rec, "avgPx", lo=0, lo_open=True, hi=MAX_PRICE), mark=mark,
            leverage=r.field(p, rec, "lever", lo=1, hi=1000), mode=MarginMode(kind),
            margin=r.field(p, rec, "margin", lo=0, lo_open=True) if kind == "isolated" else None,
            liquidation_price=r.opt(p, rec, "liqPx", hi=MAX_PRICE), maintenance_margin=r.opt(p, rec, "mmr"),
            inverse=inverse or rec.get("instType") not in (None, "SWAP"),
            hedge_leg=pos_side in ("long", "short"), where=p))
    wallet = None
    balances = _find(docs, lambda v: _data_list(v, "details"))
    if balances:
        rb, pb, bdoc = balances[0]
        for k, d in enumerate(bdoc["data"][0]["details"]):
            if isinstance(d, dict) and d.get("ccy") == ccy:
                wallet = rb.field(f"{_join(pb, 'data')}[0].details[{k}]", d, "cashBal")
    elif _cross_linear(out):
        r.notes.append("cross positions need the wallet: save GET /api/v5/account/balance beside the positions")
    return ImportedAccount(format="okx-positions", exchange="okx", positions=tuple(out), wallet=wallet,
                           source=", ".join(w for w, _ in docs), skipped=r.skipped, notes=tuple(r.notes))


def _is_ccxt_positions(v: Any) -> bool:
    return (isinstance(v, list) and bool(v) and isinstance(v[0], dict) and "contracts" in v[0]
            and "/" in str(v[0].get("symbol", "")))


def ccxt_exchange(info: Any) -> str | None:
    """The exchange a ccxt position's raw ``info`` comes from, told by its own field names."""
    if not isinstance(info, dict):
        return None
    if isinstance(info.get("position"), dict) and "szi" in info["position"]:
        return "hyperliquid"
    for key, exchange in (("positionAmt", "binance"), ("positionIdx", "bybit"), ("instId", "okx")):
        if key in info:
            return exchange
    return None


def parse_ccxt_positions(docs: Docs) -> ImportedAccount:
    """A JSON dump of ccxt's ``fetch_positions()``: a list of unified position structures.

    Per position: ``symbol`` (``BTC/USDT:USDT``; a settle currency that is not the quote, or
    ``inverse: true``, marks a coin-margined contract), ``contracts`` x ``contractSize`` (the size
    in base units), ``side``, ``entryPrice``, ``markPrice`` (else ``notional / size``),
    ``leverage``, ``marginMode``, ``collateral`` (the margin that can be lost, affected by PnL:
    the isolated margin is ``collateral - unrealizedPnl``), ``maintenanceMargin`` and
    ``liquidationPrice``. The exchange is told from each record's raw ``info``. A ccxt position
    carries no cross wallet: give the dump with ``{"positions": [...], "wallet": AMOUNT}``.
    Reference: https://docs.ccxt.com/#/?id=position-structure
    """
    r, base, items = _only(_find(docs, _is_ccxt_positions), docs, "ccxt positions (symbol, contracts)")
    out: list[ImportedPosition] = []
    exchanges = set()
    for p, rec, contracts in r.records(base, items, "contracts"):
        if contracts < 0:
            raise r.fail(_join(p, "contracts"), f"must be a finite number >= 0, got {contracts:g}")
        qty = contracts * r.num(_join(p, "contractSize"), rec.get("contractSize") or 1, lo=0, lo_open=True)
        symbol = r.text(p, rec, "symbol")
        pair, _, settle = symbol.partition(":")
        quote = pair.partition("/")[2]
        side = rec.get("side")
        if side not in ("long", "short"):
            raise r.fail(_join(p, "side"), f"expected 'long' or 'short', got {side!r}")
        mark = r.opt(p, rec, "markPrice", hi=MAX_PRICE)
        if mark is None:
            mark = abs(r.field(p, rec, "notional")) / qty
        kind = rec.get("marginMode") or ("isolated" if rec.get("isolated") else "cross")
        if kind not in ("cross", "isolated"):
            raise r.fail(_join(p, "marginMode"), f"expected 'cross' or 'isolated', got {kind!r}")
        margin = None
        if kind == "isolated":
            margin = r.field(p, rec, "collateral") - r.num(_join(p, "unrealizedPnl"), rec.get("unrealizedPnl") or 0)
            if margin <= 0:
                raise r.fail(_join(p, "collateral"), f"gives an isolated margin of {margin:g}; expected > 0")
        exchanges.add(ccxt_exchange(rec.get("info")))
        raw = rec.get("info")
        info: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        hl: Mapping[str, Any] = info["position"] if isinstance(info.get("position"), dict) else {}
        out.append(ImportedPosition(
            symbol=symbol, side=Side(side), qty=qty,
            entry=r.field(p, rec, "entryPrice", lo=0, lo_open=True, hi=MAX_PRICE), mark=mark,
            leverage=r.field(p, rec, "leverage", lo=1, hi=1000), mode=MarginMode(kind), margin=margin,
            liquidation_price=r.opt(p, rec, "liquidationPrice", hi=MAX_PRICE),
            maintenance_margin=r.opt(p, rec, "maintenanceMargin"),
            max_leverage=r.opt(_join(p, "info.position"), hl, "maxLeverage", hi=1000),
            inverse=bool(rec.get("inverse")) or (bool(settle) and settle != quote),
            hedge_leg=bool(rec.get("hedged")), where=p))
    wallet = None
    holders = _find(docs, lambda v: isinstance(v, dict) and "wallet" in v)
    if holders:
        rw, pw, h = holders[0]
        wallet = rw.field(pw, h, "wallet", lo=0)
    elif _cross_linear(out):
        r.notes.append('a ccxt dump has no cross wallet: save it as {"positions": [...], "wallet": AMOUNT}')
    known = sorted(e for e in exchanges if e)
    return ImportedAccount(format="ccxt-positions", exchange=known[0] if len(known) == 1 else None,
                           positions=tuple(out), wallet=wallet, source=", ".join(w for w, _ in docs),
                           skipped=r.skipped, notes=tuple(r.notes))


#: The formats, by name.
FORMATS: Final[dict[str, Callable[..., ImportedAccount]]] = {
    "binance-position-risk": parse_binance_position_risk,
    "bybit-positions": parse_bybit_positions,
    "okx-positions": parse_okx_positions,
    "hyperliquid-state": parse_hyperliquid_state,
    "ccxt-positions": parse_ccxt_positions,
}

_SHAPES: Final[tuple[tuple[str, Callable[[Any], bool]], ...]] = (
    ("hyperliquid-state", _is_hl_state),
    ("binance-position-risk", _is_binance_positions),
    ("bybit-positions", lambda v: _result_list(v, "avgPrice")),
    ("okx-positions", lambda v: _data_list(v, "instId") and "avgPx" in v["data"][0]),
    ("ccxt-positions", _is_ccxt_positions),
)


def detect_format(doc: Any) -> str | None:
    """The positions format of a decoded response, from its shape alone; None when none fits.

    >>> detect_format({"assetPositions": [], "marginSummary": {}})
    'hyperliquid-state'
    >>> detect_format([{"symbol": "BTCUSDT", "positionAmt": "0.5", "liquidationPrice": "0"}])
    'binance-position-risk'
    >>> detect_format({"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "avgPrice": "1"}]}})
    'bybit-positions'
    """
    for _path, piece in _pieces(doc):
        for name, shape in _SHAPES:
            if shape(piece):
                return name
    return None


def read_positions(paths: Sequence[Path | str], *, format: str | None = None,
                   contract_values: Mapping[str, float] | None = None) -> ImportedAccount:
    """Read one or two saved responses and parse them as one account (``format`` None: detected).

    Raises
    ------
    PositionsImportError
        naming the file, the JSON path and the problem.
    """
    docs: list[tuple[str, Any]] = []
    for path in paths:
        try:
            docs.append((str(path), read_json_file(path, max_bytes=MAX_RESPONSE_BYTES, what="response file")))
        except FileFormatError as exc:
            raise PositionsImportError(str(path), "(file)", exc.problem) from None
    names = [detect_format(d) for _, d in docs]
    fmt_name = format or next((n for n in names if n), None)
    if fmt_name is None:
        raise PositionsImportError(docs[0][0], "(top level)", "not a positions response MarginLab can read; "
                                   f"expected one of {', '.join(FORMATS)} (give --format to say which)")
    if fmt_name not in FORMATS:
        raise PositionsImportError(docs[0][0], "(format)", f"{fmt_name!r} is not one of {', '.join(FORMATS)}")
    try:
        if fmt_name == "okx-positions":
            return parse_okx_positions(docs, contract_values=contract_values)
        return FORMATS[fmt_name](docs)
    except RecursionError:
        raise PositionsImportError(docs[0][0], "(top level)", "nested too deeply to be read") from None
