"""``marginlab-cli``: margins, liquidation and bankruptcy prices from the command line.

Commands (documented with examples in ``docs/cli.md``)::

    marginlab-cli quote    one position under one profile (--json, --explain)
    marginlab-cli profiles the rule profiles found: counts, dates, sources (--symbols ID lists
                           one's contracts; `profiles import FILE` reads an exchange's response)
    marginlab-cli compare  one position under every profile, side by side
    marginlab-cli evaluate a portfolio file (the scenario format of core.scenario)
    marginlab-cli simulate a scenario file's liquidation waterfall (core.simulate_cli)
    marginlab-cli positions your account from a saved exchange response, audited (core.positions_cli)

The output is a contract other tools rely on: ``--json`` prints one JSON object with unrounded
numbers (``null`` where there is no price); people's output rounds prices to the contract's tick
and shows "--" where there is none. Bad input exits with status 2 and ONE line on stderr that
names the flag (or the file and field) and the allowed range; no traceback.

Adding a command
----------------
Two steps, both in this module: a ``_register_<name>`` function declares the command's flags
(with :func:`add_command` and :func:`add_common_arguments`) and :func:`build_parser` calls it; and
:data:`COMMANDS` names the function that runs it, ``"module:function"``, taking the parsed
arguments and returning the exit status. That module is imported only when its command runs, so a
command's own module (``core.simulate_cli``) imports its helpers from here without an import
cycle. Inside the function, :func:`load_profile_set` loads the shipped and the user's profiles
(warning about refused files), :func:`print_json` prints a JSON answer, and bad input is raised as
a :mod:`core.errors` exception (or :class:`CliError` for a flag): :func:`main` turns it into the
one-line message and status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fnmatch
import importlib
import json
import math
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np

from core import fmt
from core.compare import compare_position, explain_differences
from core.contracts import ContractType
from core.errors import InvalidInputError, MarginEngineError, ScenarioError, UnknownProfileError
from core.model import (
    MAKER_FEE_RANGE,
    TAKER_FEE_RANGE,
    Account,
    FeeRates,
    Liquidity,
    MarginMode,
    Position,
    Side,
)
from core.paths import exchanges_dir
from core.profiles import (
    MAX_CONTRACT_SIZE,
    Contract,
    FeeModel,
    MMBasis,
    Profile,
    ProfileSet,
    custom_tiers,
    load_profiles,
    stale_notice,
)
from core.quote import AccountQuote, PositionQuote, quote_account, quote_position, single_account
from core.scenario import load_scenario
from core.simspec import MAX_DURATION_S, MAX_FUNDING_RATE
from core.symbols import base_asset, resolve_symbol
from core.tiers import TierTable
from core.validate import MAX_AMOUNT, MAX_PRICE, MAX_QTY, number
from core.whatif import WhatIf, hold_with_funding

PROG: Final = "marginlab-cli"
EXIT_OK: Final = 0
EXIT_INTERNAL: Final = 1  # a bug: one line saying so (MARGINLAB_DEBUG=1 shows the traceback)
EXIT_USAGE: Final = 2  # bad input: one line on stderr


class CliError(MarginEngineError):
    """Bad input found by the CLI itself: ``flag`` (``--wallet``) and what is allowed."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag
        self.reason = message


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (status 2), never usage plus a message."""

    def error(self, message: str) -> Any:
        message = _one_line(message)
        if message.startswith("argument "):  # "argument --qty: ..." -> "--qty: ...", as elsewhere
            message = message[len("argument "):]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------------------------
# Argument types: a number in a range, refused with the flag and the range named


def number_type(*, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
                hi_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` accepting a finite number in the range, e.g. ``number_type(lo=0, lo_open=True)``.

    The refusal names the flag and the range: ``marginlab-cli quote: error: --qty: must be a
    finite number > 0, got 'nan'``.
    """

    def parse(text: str) -> float:
        try:
            return number("value", text, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open, text=True)
        except InvalidInputError as exc:
            raise argparse.ArgumentTypeError(exc.reason) from None

    parse.__name__ = "number"
    return parse


POSITIVE: Final = number_type(lo=0, lo_open=True)
NON_NEGATIVE: Final = number_type(lo=0)
PRICE: Final = number_type(lo=0, lo_open=True, hi=MAX_PRICE)
QTY: Final = number_type(lo=0, lo_open=True, hi=MAX_QTY)
AMOUNT: Final = number_type(lo=0, lo_open=True, hi=MAX_AMOUNT)
AMOUNT_OR_ZERO: Final = number_type(lo=0, hi=MAX_AMOUNT)
LEVERAGE: Final = number_type(lo=1, hi=1000)
RATE: Final = number_type(lo=0, hi=1, lo_open=True, hi_open=True)
FEE_RATE: Final = number_type(lo=TAKER_FEE_RANGE[0], hi=TAKER_FEE_RANGE[1])
MAKER_RATE: Final = number_type(lo=MAKER_FEE_RANGE[0], hi=MAKER_FEE_RANGE[1])
FUNDING_RATE: Final = number_type(lo=-MAX_FUNDING_RATE, hi=MAX_FUNDING_RATE)
HOURS: Final = number_type(lo=0, hi=MAX_DURATION_S / 3_600.0)
SIGNED_AMOUNT: Final = number_type(lo=-MAX_AMOUNT, hi=MAX_AMOUNT)
CONTRACT_SIZE: Final = number_type(lo=0, lo_open=True, hi=MAX_CONTRACT_SIZE)


# ---------------------------------------------------------------------------------------------
# The parser: every command's flags


def add_command(subparsers: Any, name: str, *, help: str, description: str = "",
                epilog: str = "") -> argparse.ArgumentParser:
    """A sub-command parser with this CLI's conventions (one-line errors, no abbreviations)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description or help, epilog=epilog, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser, *, json_help: str = "") -> None:
    """``--profiles-dir DIR`` (repeatable) and ``--json``, which every command takes."""
    parser.add_argument("--profiles-dir", metavar="DIR", action="append", type=Path, default=[],
                        help="also load the profile files (*.toml) in DIR; repeatable; a profile "
                             "with the id of a shipped one replaces it")
    parser.add_argument("--json", action="store_true",
                        help=json_help or "print one JSON object (numbers unrounded, null where none)")


def _add_position_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--side", required=True, choices=[s.value for s in Side], help="long or short")
    p.add_argument("--qty", required=True, type=QTY, metavar="QTY",
                   help="size in base units (5 = 5 BTC), > 0; for an inverse contract, the number of contracts")
    p.add_argument("--entry", required=True, type=PRICE, metavar="PRICE", help="average entry price, > 0")
    p.add_argument("--leverage", required=True, type=LEVERAGE, metavar="X",
                   help="leverage, 1 to the tier's maximum")
    p.add_argument("--mode", choices=[m.value for m in MarginMode], default=MarginMode.ISOLATED.value,
                   help="margin mode (default isolated)")
    p.add_argument("--margin", type=AMOUNT, metavar="AMOUNT",
                   help="isolated margin, in the contract's settle asset (the coin for an inverse contract) "
                        "(default: the opening requirement, qty*entry/leverage, plus "
                        "the fee to close under fee model close_fee); less is accepted, as fees "
                        "make it so")
    p.add_argument("--wallet", type=AMOUNT_OR_ZERO, metavar="AMOUNT",
                   help="cross collateral, in the settle asset (--mode cross; default: the opening requirement)")
    p.add_argument("--mark", type=PRICE, metavar="PRICE", help="mark price (default: the entry)")


def _register_quote(subparsers: Any) -> None:
    p = add_command(
        subparsers, "quote", help="margins, liquidation and bankruptcy price of one position",
        epilog=textwrap.dedent("""\
            example (docs/domain.md §5, the source FAQ corrected: LP 61,880, not 64,940):
              marginlab-cli quote --exchange classic --symbol BTCUSDT --side long \\
                  --qty 5 --entry 68000 --leverage 10 --explain"""))
    p.add_argument("--exchange", default="classic", metavar="ID",
                   help="rule profile id (default classic; see `marginlab-cli profiles`)")
    p.add_argument("--symbol", metavar="SYMBOL",
                   help="contract, in any exchange's spelling (BTCUSDT, BTC, BTC-PERP); default: "
                        "the profile's first contract")
    _add_position_arguments(p)
    g = p.add_argument_group("custom contract (override the profile)")
    g.add_argument("--mmr", type=RATE, metavar="RATE",
                   help="maintenance-margin rate in (0, 1): replaces the tier table by one tier")
    g.add_argument("--maintenance-amount", type=NON_NEGATIVE, metavar="AMOUNT",
                   help="maintenance amount of that one tier (needs --mmr; default 0)")
    g.add_argument("--max-leverage", type=LEVERAGE, metavar="X",
                   help="maximum leverage, 1-1000 (of the custom tier; without --mmr it caps every tier)")
    g.add_argument("--contract", choices=[t.value for t in ContractType],
                   help="linear (sizes in base units, amounts in the quote currency) or inverse (a fixed quote "
                        "value per contract, --qty in contracts, --margin/--wallet in the coin); default: the "
                        "profile's contract. Changing the type needs --mmr (the tiers are in the other asset)")
    g.add_argument("--contract-size", type=CONTRACT_SIZE, metavar="N",
                   help="inverse: the quote value of one contract (Binance BTCUSD_PERP 100 USD); linear: base "
                        "units per contract (informational)")
    g.add_argument("--mm-basis", choices=[b.value for b in MMBasis], help="maintenance margin on entry or mark")
    g.add_argument("--fee-model", choices=[f.value for f in FeeModel], help="how fees enter the margins")
    g.add_argument("--taker-fee", type=FEE_RATE, metavar="RATE", help="taker fee rate in [0, 0.1]")
    _add_fee_arguments(p)
    f = p.add_argument_group("funding (docs/domain.md §9)")
    f.add_argument("--funding-rate", type=FUNDING_RATE, metavar="RATE",
                   help="funding rate per interval in [-0.05, 0.05] (0.0001 = 0.01 %%; positive: longs pay); "
                        "shows the payment, and the payment after which funding alone liquidates at the mark")
    f.add_argument("--hold-hours", type=HOURS, metavar="H",
                   help="hold H hours at the funding rate (default 0.01 %% per 8 h, pro rata), the mark "
                        "standing still: the payments, and the liquidation price after them")
    f.add_argument("--funding-paid", type=SIGNED_AMOUNT, metavar="AMOUNT",
                   help="funding the position has paid so far (negative: received); counted by the "
                        "break-even and net PnL")
    add_common_arguments(p)
    p.add_argument("--explain", action="store_true",
                   help="write out the arithmetic behind each number (with --json: an \"explain\" object)")


def _add_fee_arguments(p: argparse.ArgumentParser) -> None:
    """The account's own fee rates and order types (docs/domain.md §9.4)."""
    g = p.add_argument_group("trading fees (default: the profile's rates, market orders)")
    g.add_argument("--maker-fee", type=MAKER_RATE, metavar="RATE",
                   help="maker fee rate in [-0.01, 0.1] (negative: a rebate)")
    g.add_argument("--open-as", choices=[x.value for x in Liquidity], default=Liquidity.TAKER.value,
                   help="the opening order is a maker (limit) or taker (market) order (default taker)")
    g.add_argument("--close-as", choices=[x.value for x in Liquidity], default=Liquidity.TAKER.value,
                   help="the closing order is a maker or a taker order (default taker)")


def _register_profiles(subparsers: Any) -> None:
    p = add_command(
        subparsers, "profiles", help="the rule profiles: contracts, dates, sources; import an exchange's tiers",
        description=textwrap.dedent("""\
            The rule profiles found (shipped, yours, --profiles-dir): how many contracts each lists,
            the date and source of its tables.

              marginlab-cli profiles --symbols binance 'SOL*'   list a profile's contracts
              marginlab-cli profiles import FILE [--format F] [--into ID] [--as-of YYYY-MM-DD]

            `import` reads a response you saved from an exchange's public API and writes (or
            updates) the dated profile <ID>.json in your exchanges folder (or in --profiles-dir DIR),
            keeping the previous file as NAME.YYYY-MM-DD.bak. Formats, detected when --format is
            left out: binance-brackets, binance-coinm-brackets, ccxt-tiers, bybit-risk-limit (linear
            or inverse), okx-position-tiers, hyperliquid-meta (docs/profiles.md)."""))
    p.add_argument("action", nargs="?", choices=["import"], help="import FILE (see above)")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="the saved response (with import)")
    p.add_argument("--symbols", nargs="+", metavar=("ID", "PATTERN"),
                   help="list profile ID's contracts, those matching PATTERN (SOL, 'SOL*') if given")
    g = p.add_argument_group("import")
    g.add_argument("--format", metavar="F", help="the response's format (default: detected)")
    g.add_argument("--into", metavar="ID", help="the profile to write or update (default: the exchange's)")
    g.add_argument("--as-of", metavar="YYYY-MM-DD", help="the date the response was taken (default: today)")
    g.add_argument("--source", metavar="TEXT", help="where the response came from (default: its endpoint)")
    g.add_argument("--price", action="append", default=[], metavar="INSTID=PRICE",
                   help="okx-position-tiers: the price that turns a tier's size in contracts into notional")
    g.add_argument("--contract-value", action="append", default=[], metavar="INSTID=VALUE",
                   help="okx-position-tiers: base units per contract (ctVal) where the file lacks it")
    add_common_arguments(p)


def _register_compare(subparsers: Any) -> None:
    p = add_command(
        subparsers, "compare", help="one position under every profile, side by side",
        description="One position under every profile, side by side: initial and maintenance "
                    "margin, tier, liquidation and bankruptcy price. The symbol is matched to each "
                    "profile's own contract (BTCUSDT on Binance is BTC on Hyperliquid); a profile "
                    "that lacks the asset or refuses the position shows the reason instead.")
    p.add_argument("--symbol", default="BTC", metavar="SYMBOL",
                   help="asset or contract in any spelling (default BTC)")
    p.add_argument("--exchange", action="append", default=[], metavar="ID",
                   help="only these profiles (repeatable; default: all)")
    _add_position_arguments(p)
    add_common_arguments(p)
    p.add_argument("--explain", action="store_true",
                   help="name the rule behind each difference, measured where possible (with --json: "
                        "an \"explanations\" list)")
    p.add_argument("--reference", metavar="ID",
                   help="the profile the others are explained against (default: the first that quotes)")


def _register_evaluate(subparsers: Any) -> None:
    p = add_command(
        subparsers, "evaluate", help="a portfolio file: every position and the account",
        description="Evaluate a portfolio file (a MarginLab scenario file: a wallet and several "
                    "positions, isolated or cross, with marks). See docs/cli.md for the format.")
    p.add_argument("file", type=Path, metavar="FILE", help="portfolio / scenario JSON file")
    p.add_argument("--exchange", metavar="ID",
                   help="evaluate under this profile instead of the file's (symbols are matched)")
    add_common_arguments(p)
    p.add_argument("--explain", action="store_true", help="write out the arithmetic for each position")


def _register_simulate(subparsers: Any) -> None:
    p = add_command(
        subparsers, "simulate", help="play a scenario file's liquidation waterfall",
        description=textwrap.dedent("""\
            Play the liquidation waterfall of a scenario file (its "simulation" section) over its price path:
            margin checks at the mark, liquidation orders against a book model, partial liquidation, the
            insurance fund, backstop and auto-deleveraging, under the scenario's exchange rules.

            examples:
              marginlab-cli simulate resources/scenarios/lesson-faq-crash.json
              marginlab-cli simulate my.json --json | jq '.parties'"""))
    add_common_arguments(p, json_help="print one JSON object: events, ledger, parties, liquidations")
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file with a simulation section")
    p.add_argument("--funding-rate", type=FUNDING_RATE, metavar="RATE",
                   help="funding rate per interval in [-0.05, 0.05], paid at every funding time of the path "
                        "(replaces the file's simulation.funding rate; its interval_h is kept)")


def _register_positions(subparsers: Any) -> None:
    p = add_command(
        subparsers, "positions", help="your account from the exchange's own response, checked against ours",
        description=textwrap.dedent("""\
            Read a response you saved from an exchange's private API (no key is read, asked for or
            stored: README shows the one request per exchange) and print every open position with the
            exchange's liquidation price (and maintenance margin, where the response has it) beside
            MarginLab's, the difference in price and in basis points, and a verdict: a match within one
            tick, or the first rule or data difference that explains the gap (table date, fee, hedge
            mode, unknown symbol, inverse contract, missing tier, missing wallet).

            Formats, detected when --format is left out: binance-position-risk (with /fapi/v2/account
            for cross), bybit-positions (with /v5/account/wallet-balance), okx-positions (with
            /api/v5/account/balance), hyperliquid-state, ccxt-positions. Two responses that belong
            together may be two files or one JSON object holding both.

            examples:
              marginlab-cli positions clearinghouse.json
              marginlab-cli positions positionRisk.json account.json --save mine.json"""))
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the saved response (and a second one)")
    p.add_argument("--format", metavar="F", help="the response's format (default: detected)")
    p.add_argument("--exchange", metavar="ID", help="audit under this profile (default: the response's exchange)")
    p.add_argument("--save", type=Path, metavar="SCENARIO.json",
                   help="write the account as imported to a scenario file (the window opens it), the "
                        "exchange's figures kept in its audit section")
    p.add_argument("--contract-value", action="append", default=[], metavar="INSTID=VALUE",
                   help="okx-positions: base units per contract (ctVal) of an instrument")
    add_common_arguments(p, json_help="print one JSON object: positions (exchange, ours, difference, verdict) "
                                      "and a summary")


#: The commands in help order and the function that runs each, ``"module:function"``: it takes the
#: parsed arguments and returns the exit status. Its module is imported only when the command runs.
COMMANDS: Final[dict[str, str]] = {
    "quote": "core.cli:_cmd_quote",
    "profiles": "core.cli:_cmd_profiles",
    "compare": "core.cli:_cmd_compare",
    "evaluate": "core.cli:_cmd_evaluate",
    "simulate": "core.simulate_cli:run",
    "positions": "core.positions_cli:run",
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser: one sub-parser per command of :data:`COMMANDS`, with its flags."""
    parser = _Parser(
        prog=PROG, allow_abbrev=False,
        description="MarginLab from the command line: margins, liquidation and bankruptcy prices "
                    "to each exchange's own rules.",
        epilog="exit status: 0 done, 2 bad input (one line on stderr), 1 an internal error. "
               "`marginlab-cli COMMAND --help` for a command's flags.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in (_register_quote, _register_profiles, _register_compare, _register_evaluate,
                     _register_simulate, _register_positions):
        register(sub)
    return parser


def _command_function(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs command ``name``, its module imported now (see :data:`COMMANDS`)."""
    module_name, _, func_name = COMMANDS[name].partition(":")
    func: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), func_name)
    return func


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("marginlab")
    except Exception:  # not installed: running from a clone
        return "(source)"


def main(argv: Sequence[str] | None = None, *, user_profiles_dir: Path | None = None,
         today: dt.date | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it).

    ``user_profiles_dir`` is the user's own ``exchanges/`` folder, loaded after the shipped
    profiles and before any ``--profiles-dir`` (the ``marginlab-cli`` script passes it, so the
    command line and the window use the same tables; core itself never looks it up). ``today``
    dates the age of tables and imports (default: the clock's date; tests pass a fixed one).
    """
    _tolerate_narrow_encodings()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        return _fail(PROG, "choose a command: " + ", ".join(COMMANDS) + " (see --help)")
    args.user_profiles_dir = user_profiles_dir
    args.today = today if today is not None else dt.date.today()
    prog = f"{PROG} {args.command}"
    try:
        return _run(prog, args)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("MARGINLAB_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
              "(please report it; MARGINLAB_DEBUG=1 shows the details)", file=sys.stderr)
        return EXIT_INTERNAL


def _run(prog: str, args: argparse.Namespace) -> int:
    try:
        return int(_command_function(args.command)(args) or EXIT_OK)
    except CliError as exc:
        return _fail(prog, f"{exc.flag}: {exc.reason}")
    except InvalidInputError as exc:
        return _fail(prog, f"{flag_for(exc.field)}: {exc.reason}")
    except MarginEngineError as exc:  # ScenarioError, ProfileError: they name the file themselves
        return _fail(prog, str(exc))
    except BrokenPipeError:  # `marginlab-cli profiles | head`: the reader left, nothing to say
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return EXIT_OK


def _tolerate_narrow_encodings() -> None:
    """On a terminal that cannot show "Ⓢ" or "∞" (ASCII, cp1252), print "?" rather than fail."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            with contextlib.suppress(Exception):
                stream.reconfigure(errors="replace")


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


_FIELD_FLAGS: Final = {
    "exchange": "--exchange", "symbol": "--symbol", "side": "--side", "qty": "--qty",
    "entry": "--entry", "leverage": "--leverage", "margin": "--margin", "wallet": "--wallet",
    "mode": "--mode", "mmr": "--mmr", "max-leverage": "--max-leverage",
    "maintenance-amount": "--maintenance-amount", "taker-fee": "--taker-fee", "taker_fee": "--taker-fee",
    "maker_fee": "--maker-fee", "funding_paid": "--funding-paid", "rate": "--funding-rate", "days": "--hold-hours",
    "contract-size": "--contract-size", "type": "--contract", "position_mode": "account.position_mode",
}


def flag_for(field: str) -> str:
    """The flag a core field name comes from: ``"leverage"`` -> ``"--leverage"``, ``"marks.X"`` -> ``"--mark"``."""
    if field.startswith("marks."):
        return "--mark"
    return _FIELD_FLAGS.get(field, field)


# ---------------------------------------------------------------------------------------------
# Shared helpers for commands


def load_profile_set(args: argparse.Namespace, *, stderr: TextIO | None = None) -> ProfileSet:
    """The shipped profiles, the user's own, then each ``--profiles-dir``; refused files are warned about.

    One warning line per refused file, naming the file, the key and the problem; the command goes
    on with the profiles that loaded.
    """
    user = getattr(args, "user_profiles_dir", None)
    dirs = [exchanges_dir(), *([user] if user is not None else []), *getattr(args, "profiles_dir", [])]
    for d in getattr(args, "profiles_dir", []):
        if not Path(d).is_dir():
            raise CliError("--profiles-dir", f"{d} is not a directory")
    profiles = load_profiles(dirs)
    err = sys.stderr if stderr is None else stderr
    for e in profiles.errors:
        print(f"{PROG}: warning: {_one_line(str(e))} (file skipped)", file=err)
    return profiles


def warn_if_stale(profiles: Sequence[Profile], args: argparse.Namespace) -> None:
    """One ``note:`` line on stderr per profile whose tables are older than 180 days."""
    today = getattr(args, "today", None) or dt.date.today()
    for p in profiles:
        notice = stale_notice(p, today=today)
        if notice:
            print(f"{PROG} {args.command}: note: {notice}", file=sys.stderr)


def jsonable(x: Any) -> Any:
    """Plain JSON data: non-finite floats become null, numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x + 0.0 if math.isfinite(x) else None  # + 0.0: no "-0.0" in the output
    return x


def print_json(obj: Any) -> None:
    print(json.dumps(jsonable(obj), allow_nan=False))  # ASCII: safe on any terminal encoding


def _profile_summary(p: Profile) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "as_of": p.as_of, "source": p.source}


# ---------------------------------------------------------------------------------------------
# quote


def _custom_profile(profile: Profile, args: argparse.Namespace) -> tuple[Profile, str, dict[str, Any]]:
    """The profile with the command line's overrides applied, the contract symbol, and the overrides."""
    overrides: dict[str, Any] = {}
    if args.maintenance_amount is not None and args.mmr is None:
        raise CliError("--maintenance-amount", "belongs to the one custom tier: give --mmr too")
    if args.symbol is None:
        symbol = profile.symbols[0]
    elif args.mmr is not None:
        try:
            symbol = resolve_symbol(profile, args.symbol)
        except UnknownProfileError:
            symbol = args.symbol.strip().upper()  # a contract the profile does not list: custom
    else:
        symbol = resolve_symbol(profile, args.symbol)
    rules = profile.rules
    rule_changes: dict[str, Any] = {}
    if args.mm_basis is not None:
        rule_changes["mm_basis"] = MMBasis(args.mm_basis)
    if args.fee_model is not None:
        rule_changes["fee_model"] = FeeModel(args.fee_model)
    if args.taker_fee is not None:
        rule_changes["taker_fee"] = args.taker_fee
    if rule_changes:
        rules = dataclasses.replace(rules, **rule_changes)
        overrides.update({k: (v.value if hasattr(v, "value") else v) for k, v in rule_changes.items()})
    contract = profile.contracts.get(symbol)
    changed: Contract | None = None
    if args.mmr is not None:
        max_lev = args.max_leverage if args.max_leverage is not None else (
            contract.max_leverage if contract is not None else 125.0)
        tiers = custom_tiers(mmr=args.mmr, max_leverage=max_lev,
                             maintenance_amount=args.maintenance_amount or 0.0)
        base = contract or Contract(symbol=symbol, tiers=tiers,
                                    quote=profile.contracts[profile.symbols[0]].quote)
        changed = dataclasses.replace(base, tiers=tiers)
        overrides.update({"mmr": args.mmr, "maintenance_amount": args.maintenance_amount or 0.0,
                          "max_leverage": max_lev})
    elif args.max_leverage is not None:
        assert contract is not None  # resolve_symbol found it
        t = contract.tiers
        capped = TierTable.from_rows(floor=t.floor, cap=t.cap, max_leverage=np.minimum(t.max_leverage,
                                     args.max_leverage), mmr=t.mmr, cum=t.cum)
        changed = dataclasses.replace(contract, tiers=capped)
        overrides["max_leverage"] = args.max_leverage
    changed = _custom_contract_type(profile, symbol, changed, contract, args, overrides)
    if not overrides:
        return profile, symbol, overrides
    if changed is not None:
        profile = profile.with_contract(changed)
    return dataclasses.replace(profile, rules=rules), symbol, overrides


def _custom_contract_type(profile: Profile, symbol: str, changed: Contract | None, contract: Contract | None,
                          args: argparse.Namespace, overrides: dict[str, Any]) -> Contract | None:
    """``--contract`` and ``--contract-size`` applied to the (possibly custom) contract."""
    if args.contract is None and args.contract_size is None:
        return changed
    base = changed or contract
    assert base is not None  # resolve_symbol found it, or --mmr made one
    kind = ContractType(args.contract) if args.contract is not None else base.type
    if kind is not base.type and args.mmr is None:
        raise CliError("--contract", f"{profile.id}'s {symbol} is {base.type.value}: its tiers are by notional in "
                                     f"{base.settle}; give --mmr (one custom tier) to quote it as {kind.value}")
    size = args.contract_size if args.contract_size is not None else (base.size if kind is base.type else 1.0)
    if kind is ContractType.INVERSE:
        quote = base.quote if base.is_inverse else "USD"
        settle = base.settle if base.is_inverse else base_asset(symbol)
    else:
        quote = base.quote if not base.is_inverse else "USDT"
        settle = quote
    overrides.update({"contract_type": kind.value, "contract_size": size})
    return dataclasses.replace(base, type=kind, size=size, quote=quote, settle=settle)


def _position(args: argparse.Namespace, symbol: str) -> Position:
    mode = MarginMode(args.mode)
    if mode is MarginMode.CROSS and args.margin is not None:
        raise CliError("--margin", "applies to --mode isolated only; give the cross collateral with --wallet")
    if mode is MarginMode.ISOLATED and args.wallet is not None:
        raise CliError("--wallet", "applies to --mode cross only; give an isolated position's margin with --margin")
    return Position(symbol=symbol, side=Side(args.side), qty_base=args.qty, entry_price=args.entry,
                    leverage=args.leverage, mode=mode, margin_usd=args.margin,
                    funding_paid=getattr(args, "funding_paid", None) or 0.0)


def account_fees(args: argparse.Namespace) -> FeeRates:
    """The account's fee rates and order types from ``--maker-fee``, ``--open-as``, ``--close-as``
    (``--taker-fee`` changes the profile's rule itself, as it always has)."""
    return FeeRates(maker=getattr(args, "maker_fee", None), open=Liquidity(getattr(args, "open_as", "taker")),
                    close=Liquidity(getattr(args, "close_as", "taker")))


def quote_to_json(profile: Profile, q: PositionQuote, *, explain: bool = False,
                  overrides: dict[str, Any] | None = None, hold: WhatIf | None = None) -> dict[str, Any]:
    """The JSON object of ``quote``: the quote's fields plus the profile, currency and tick (and,
    with ``--funding-rate`` / ``--hold-hours``, a ``hold`` object: :func:`core.whatif.hold_with_funding`)."""
    contract = profile.contract(q.position.symbol)
    out: dict[str, Any] = {"exchange": profile.id, "as_of": profile.as_of, **q.as_dict(),
                           "quote_currency": contract.quote, "tick_size": contract.tick_size}
    # amounts (margins, PnL, notional) are in settle_asset, prices in quote_currency
    if overrides:
        out["overrides"] = overrides
    if hold is not None and hold.funding is not None:
        after = hold.after
        out["hold"] = {**hold.funding.as_dict(), "hours": hold.funding.days * 24.0,
                       "liquidation_price_after": None if after is None else after.liquidation_price,
                       "margin_after": None if after is None else after.margin,
                       "break_even_price_after": None if after is None else after.break_even_price}
    if explain:
        out["explain"] = dict(q.explain)
    return out


def _money(x: float, asset: str = "USDT") -> str:
    return fmt.amount(x + 0.0, asset)  # + 0.0 turns -0.0 (a short at its entry) into 0.00, not -0.00


def _yes_no(b: bool) -> str:
    return "YES" if b else "no"


def _tier_text(t: Any, ccy: str) -> str:
    cap = fmt.num(t.cap) if t.cap is not None and math.isfinite(t.cap) else "∞"
    return (f"tier {t.index + 1} ({fmt.num(t.floor)}-{cap} {ccy}, MMR {fmt.pct(t.mmr, 3)}, "
            f"max {t.max_leverage:g}x)")


def quote_lines(profile: Profile, q: PositionQuote) -> list[str]:
    """People's rendering of one quote: prices to the tick, amounts in the settle asset (to the cent,
    or 8 decimals of a coin: :func:`core.fmt.amount`), "--" for none."""
    p = q.position
    c = profile.contract(p.symbol)
    ccy, tick = c.settle, c.tick_size
    mode = p.mode.value
    size = (f"{fmt.num(p.qty_base)} contracts of {fmt.num(c.size)} {c.quote}" if c.is_inverse
            else fmt.num(p.qty_base))
    lines = [
        f"{profile.id} {p.symbol}: {p.side.value} {size} @ {fmt.price(p.entry_price, tick)}, "
        f"{p.leverage:g}x {mode}, mark {fmt.price(q.mark, tick)}",
        f"  {profile.name}, as of {profile.as_of}"
        + (f"; inverse: margins and PnL in {ccy}, prices in {c.quote}" if c.is_inverse else ""),
        "",
        f"  {'Notional':<22}{fmt.amount(q.notional, ccy):>18} {ccy}",
        f"  {'Initial margin':<22}{fmt.amount(q.initial_margin, ccy):>18} {ccy}",
        f"  {'Maintenance margin':<22}{fmt.amount(q.maintenance_margin, ccy):>18} {ccy}   {_tier_text(q.tier, ccy)}",
        f"  {'Margin' if p.mode is MarginMode.ISOLATED else 'Wallet (cross)':<22}{fmt.amount(q.margin, ccy):>18} {ccy}",
        f"  {'Unrealized PnL':<22}{_money(q.unrealized_pnl, ccy):>18} {ccy}",
        f"  {'Margin ratio':<22}{fmt.pct(q.margin_ratio):>18}   (100 % liquidates)",
        f"  {'Liquidation price':<22}{fmt.price(q.liquidation_price, tick):>18}"
        + (f"   {_tier_text(q.liquidation_tier, ccy)} at the liquidation price"
           if q.liquidation_tier.index != q.tier.index and math.isfinite(q.liquidation_price) else ""),
        f"  {'Bankruptcy price':<22}{fmt.price(q.bankruptcy_price, tick):>18}",
        f"  {'Distance to LP':<22}{fmt.pct(q.distance_to_liquidation):>18}",
        f"  {'Liquidatable now':<22}{_yes_no(q.liquidatable_now):>18}",
        "",
        f"  {'Fee to open':<22}{_money(q.open_fee, ccy):>18} {ccy}",
        f"  {'Fee to close at mark':<22}{_money(q.close_fee_at_mark, ccy):>18} {ccy}",
        f"  {'Net uPnL':<22}{_money(q.net_unrealized_pnl, ccy):>18} {ccy}   after both fees"
        + (f" and {fmt.amount(q.funding_paid, ccy)} funding paid" if q.funding_paid else ""),
        f"  {'ROE':<22}{fmt.pct(q.roe):>18}   uPnL / initial margin",
        f"  {'Net ROE':<22}{fmt.pct(q.net_roe):>18}   net uPnL / initial margin",
        f"  {'Break-even (fees)':<22}{fmt.price(q.break_even_price, tick):>18}   MarginLab's: both fees"
        + (" and the funding paid" if q.funding_paid else "") + " counted",
    ]
    if q.shares_lp_with:
        lines.append(f"  Shares its liquidation price with position{'s' * (len(q.shares_lp_with) > 1)} "
                     f"{', '.join(f'#{j}' for j in q.shares_lp_with)} (cross legs of one symbol, hedge mode)")
    return lines


def hold_lines(profile: Profile, res: WhatIf) -> list[str]:
    """People's rendering of ``--funding-rate`` / ``--hold-hours`` (a :func:`core.whatif.hold_with_funding`)."""
    f = res.funding
    assert f is not None
    c = profile.contract(res.before.position.symbol)
    ccy, tick = c.settle, c.tick_size
    pays = "pays" if f.per_interval >= 0 else "receives"
    lines = ["", f"Funding at {fmt.pct(f.rate, 4)} every {f.interval_h:g} h (the mark standing still):",
             f"  the position {pays} {fmt.amount(abs(f.per_interval), ccy)} {ccy} per payment "
             f"(booked: {profile.rules.funding_booking.value.replace('_', ' ')})"]
    if f.intervals or f.days:
        after = res.after
        lp = fmt.price(after.liquidation_price, tick) if after is not None else fmt.NONE_TEXT
        lines.append(f"  held {f.days * 24:g} h: {f.intervals} payments, {fmt.amount(f.paid, ccy)} {ccy} paid in all; "
                     f"liquidation price {fmt.price(res.before.liquidation_price, tick)} -> {lp}")
    if f.liquidation_intervals is None:
        lines.append("  funding alone does not liquidate it within ten years")
    else:
        lines.append(f"  funding alone liquidates it at payment {f.liquidation_intervals:,} "
                     f"(day {f.liquidation_days:,.2f})" + (" -- within the holding time" if f.liquidated_within else ""))
    return lines


def explain_lines(q: PositionQuote) -> list[str]:
    out = ["", "How the numbers come about:"]
    for text in q.explain.values():
        out.extend(textwrap.wrap(text, width=100, initial_indent="  ", subsequent_indent="      ",
                                 break_on_hyphens=False))
    return out


def _cmd_quote(args: argparse.Namespace) -> int:
    profiles = load_profile_set(args)
    profile, symbol, overrides = _custom_profile(profiles.get(args.exchange), args)
    warn_if_stale([profile], args)
    position = _position(args, symbol)
    fees = account_fees(args)
    if fees.maker is not None:
        overrides["maker_fee"] = fees.maker
    q = quote_position(profile, position, mark=args.mark, wallet=args.wallet, fees=fees)
    hold = None
    if args.funding_rate is not None or args.hold_hours is not None:
        acct = single_account(profile, position, mark=args.mark, wallet=args.wallet, fees=fees)
        hold = hold_with_funding(profile, acct, 0, (args.hold_hours or 0.0) / 24.0, rate=args.funding_rate)
    if args.json:
        print_json(quote_to_json(profile, q, explain=args.explain, overrides=overrides, hold=hold))
        return EXIT_OK
    lines = quote_lines(profile, q)
    if overrides:
        lines.insert(2, "  overrides: " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    if hold is not None:
        lines += hold_lines(profile, hold)
    if args.explain:
        lines += explain_lines(q)
    print("\n".join(lines))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# profiles


def _profile_json(p: Profile) -> dict[str, Any]:
    r = p.rules
    return {
        **_profile_summary(p), "path": p.path, "notes": p.notes,
        "rules": {f.name: (v.value if hasattr(v, "value") else v)
                  for f in dataclasses.fields(r) for v in [getattr(r, f.name)]},
        "symbols": [_symbol_json(p, s) for s in p.symbols],
    }


def _cmd_profiles(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _cmd_profiles_import(args)
    if args.file is not None:
        raise CliError("FILE", "a file is read only by `marginlab-cli profiles import FILE`")
    profiles = load_profile_set(args)
    if args.symbols:
        return _print_symbols(profiles, args)
    if args.json:
        print_json({"profiles": [_profile_json(p) for p in profiles],
                    "errors": [{"path": e.path, "key": e.key, "problem": e.problem} for e in profiles.errors]})
        return EXIT_OK
    lines: list[str] = []
    for p in profiles:
        r = p.rules
        tier_rule = "tier at the liquidation price" if r.tier_at_liquidation else "tier at entry"
        n = len(p.symbols)
        shown = ", ".join(p.symbols[:6]) + (f", … (`{PROG} profiles --symbols {p.id}` lists them)" if n > 6 else "")
        lines += [
            f"{p.id:<12} {p.name}  (as of {p.as_of})",
            f"{'':<12} MM on {r.mm_basis.value}, fee model {r.fee_model.value} (taker {fmt.pct(r.taker_fee, 3)}), "
            f"{tier_rule}",
            f"{'':<12} {n} contract{'s' * (n != 1)}: {shown}",
            f"{'':<12} source: {p.source}",
            f"{'':<12} file: {p.path}",
        ]
        notice = stale_notice(p, today=args.today)
        if notice:
            lines.append(f"{'':<12} note: {notice}")
        lines.append("")
    print("\n".join(lines).rstrip())
    return EXIT_OK


def _matches(symbol: str, pattern: str) -> bool:
    """``pattern`` with * or ? is a shell pattern; otherwise a case-insensitive part of the name."""
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(symbol.upper(), pattern.upper())
    return pattern.strip().upper() in symbol.upper()


def _print_symbols(profiles: ProfileSet, args: argparse.Namespace) -> int:
    if len(args.symbols) > 2:
        raise CliError("--symbols", f"takes a profile id and at most one pattern, got {' '.join(args.symbols)}")
    profile = profiles.get(args.symbols[0])
    pattern = args.symbols[1] if len(args.symbols) > 1 else ""
    chosen = [s for s in profile.symbols if _matches(s, pattern)]
    if args.json:
        print_json({"id": profile.id, "as_of": profile.as_of, "pattern": pattern,
                    "symbols": [_symbol_json(profile, s) for s in chosen]})
        return EXIT_OK
    lines = [f"{profile.id}: {len(chosen)} of {len(profile.symbols)} contracts"
             + (f" matching {pattern!r}" if pattern else "") + f" (as of {profile.as_of})"]
    for s in chosen:
        c = profile.contract(s)
        cap = "∞" if not math.isfinite(c.tiers.max_notional) else fmt.num(c.tiers.max_notional)
        kind = f" inverse {fmt.num(c.size)} {c.quote}, in {c.settle}" if c.is_inverse else ""
        lines.append(f"  {s:<20} {c.quote:<5} max {c.max_leverage:>5g}x  {len(c.tiers):>2} tier"
                     f"{'s' if len(c.tiers) != 1 else ' '}  up to {cap} {c.settle}{kind}")
    print("\n".join(lines))
    return EXIT_OK


def _symbol_json(p: Profile, symbol: str) -> dict[str, Any]:
    c = p.contract(symbol)
    return {"symbol": c.symbol, "quote": c.quote, "type": c.type.value, "size": c.size, "settle": c.settle,
            "tick_size": c.tick_size, "lot_size": c.lot_size,
            "tiers": len(c.tiers), "max_leverage": c.max_leverage, "max_notional": c.tiers.max_notional,
            "liquidation_fee": p.liquidation_fee(c.symbol)}


def _cmd_profiles_import(args: argparse.Namespace) -> int:
    from core.tier_import import import_tables, parse_assignments, read_response

    if args.file is None:
        raise CliError("FILE", "give the response file to import: marginlab-cli profiles import FILE")
    if args.profiles_dir:
        directory = Path(args.profiles_dir[-1])
    elif getattr(args, "user_profiles_dir", None) is not None:
        directory = Path(args.user_profiles_dir)
    else:
        raise CliError("--profiles-dir", "no exchanges folder is known here; give --profiles-dir DIR")
    as_of = None
    if args.as_of is not None:
        try:
            as_of = dt.date.fromisoformat(args.as_of).isoformat()
        except ValueError:
            raise CliError("--as-of", f"expected a date YYYY-MM-DD, got {args.as_of!r}") from None
    tables = read_response(args.file, format=args.format,
                           prices=parse_assignments("--price", args.price),
                           contract_values=parse_assignments("--contract-value", args.contract_value))
    shipped = load_profiles([exchanges_dir()])
    result = import_tables(tables, into=args.into, directory=directory, today=args.today, as_of=as_of,
                           source=args.source, base_profiles=shipped.profiles)
    if args.json:
        print_json({"profile": result.profile_id, "path": str(result.path),
                    "backup": None if result.backup is None else str(result.backup), "format": result.format,
                    "added": list(result.added), "unchanged": result.unchanged, "skipped": list(result.skipped),
                    "changed": {s: [dataclasses.asdict(c) for c in cs] for s, cs in result.changed.items()}})
        return EXIT_OK
    print("\n".join(result.summary_lines()))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# compare


_COMPARE_ROWS: Final = ("contract", "initial margin", "maintenance margin", "tier", "liquidation price",
                        "bankruptcy price", "distance to LP", "rules")


def _compare_cells(profile: Profile, q: PositionQuote) -> list[str]:
    c = profile.contract(q.position.symbol)
    t = q.tier
    a = c.settle
    return [
        f"{c.symbol} ({c.quote})" if not c.is_inverse else f"{c.symbol} (inverse, {fmt.num(c.size)} {c.quote})",
        f"{fmt.amount(q.initial_margin, a)} {a}",
        f"{fmt.amount(q.maintenance_margin, a)} {a}",
        f"{t.index + 1}: MMR {fmt.pct(t.mmr, 3)}, {t.max_leverage:g}x",
        fmt.price(q.liquidation_price, c.tick_size),
        fmt.price(q.bankruptcy_price, c.tick_size),
        fmt.pct(q.distance_to_liquidation),
        f"MM on {profile.rules.mm_basis.value}, fee {profile.rules.fee_model.value}",
    ]


def _cmd_compare(args: argparse.Namespace) -> int:
    profiles = load_profile_set(args)
    chosen = [profiles.get(pid) for pid in args.exchange] if args.exchange else list(profiles)
    if args.reference is not None and args.reference not in [p.id for p in chosen]:
        raise CliError("--reference", f"{args.reference!r} is not among the compared profiles; "
                                      f"choose one of {', '.join(p.id for p in chosen)}")
    # The rows the GUI's Compare tab shows too (core.compare): symbol matched per profile, the
    # reason instead of numbers where a profile cannot quote.
    rows = compare_position(chosen, _position(args, args.symbol), mark=args.mark, wallet=args.wallet)
    warn_if_stale(chosen, args)
    explanations = explain_differences(rows, reference=args.reference) if args.explain else None
    if args.json:
        out: dict[str, Any] = {
            "position": {"symbol": args.symbol, "side": args.side, "qty": args.qty, "entry": args.entry,
                         "leverage": args.leverage, "mode": args.mode, "margin": args.margin,
                         "wallet": args.wallet, "mark": args.mark},
            "profiles": [
                {**_profile_summary(r.profile), "ok": r.ok, **({"converted": r.converted} if r.converted else {}),
                 **({"quote": quote_to_json(r.profile, r.quote)} if r.quote is not None else
                    {"error": {"field": flag_for(r.error_field), "message": r.error}})}
                for r in rows],
        }
        if explanations is not None:
            out["explanations"] = explanations
        print_json(out)
        return EXIT_OK
    columns: list[list[str]] = []
    for r in rows:
        if r.quote is not None:
            columns.append(_compare_cells(r.profile, r.quote))
        else:
            reason = f"{flag_for(r.error_field)}: {r.error}" if r.error_field != "symbol" else r.error
            columns.append(["(not available)", *textwrap.wrap(reason, width=30, break_on_hyphens=False)])
    n_rows = max(len(_COMPARE_ROWS), *(len(c) for c in columns))
    widths = [max(len(r.profile.id), *(len(x) for x in col)) for r, col in zip(rows, columns, strict=True)]
    label_w = max(len(r) for r in _COMPARE_ROWS) + 2
    side = f"{args.side} {fmt.num(args.qty)} {args.symbol} @ {fmt.num(args.entry)}, {args.leverage:g}x {args.mode}"
    if args.mark is not None:
        side += f", mark {fmt.num(args.mark)}"
    lines = [side, "", " " * label_w + "  ".join(r.profile.id.rjust(w) for r, w in zip(rows, widths, strict=True))]
    for i in range(n_rows):
        label = _COMPARE_ROWS[i] if i < len(_COMPARE_ROWS) else ""
        cells = []
        for r, col, w in zip(rows, columns, widths, strict=True):
            text = col[i] if i < len(col) else ""
            cells.append(text.rjust(w) if r.ok else text.ljust(w))
        lines.append(f"{label:<{label_w}}" + "  ".join(cells).rstrip())
    notes = [f"{r.profile.id}: {r.converted}" for r in rows if r.converted]
    if notes:
        lines += ["", "Sizes are in base units and amounts in the quote currency; an inverse contract's column is"
                      " the same position:", *(f"  {n}" for n in notes)]
    if explanations:
        lines += ["", "Why they differ:"]
        for text in explanations:
            lines.extend(textwrap.wrap(text, width=100, initial_indent="  ", subsequent_indent="      ",
                                       break_on_hyphens=False))
    print("\n".join(lines))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# evaluate


def _remap_account(profile: Profile, account: Account) -> Account:
    """The account with every symbol in the profile's own spelling (marks follow their position)."""
    names: dict[str, str] = {}
    positions = []
    for i, p in enumerate(account.positions):
        try:
            names[p.symbol] = resolve_symbol(profile, p.symbol)
        except InvalidInputError as exc:
            raise InvalidInputError(f"account.positions[{i}].symbol", exc.reason) from None
        positions.append(p.with_(symbol=names[p.symbol]))
    marks = {names.get(s, s): m for s, m in account.marks}
    return account.with_(profile_id=profile.id, positions=tuple(positions), marks=tuple(sorted(marks.items())))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    path = str(args.file)
    scenario = load_scenario(args.file)
    profiles = load_profile_set(args)
    try:
        profile = profiles.get(args.exchange or scenario.exchange)
    except UnknownProfileError as exc:
        if args.exchange:
            raise
        raise ScenarioError(path, "exchange", exc.reason) from None
    try:
        account = _remap_account(profile, scenario.account)
        if not account.positions:
            raise InvalidInputError("account.positions", "the portfolio has no positions")
        aq = quote_account(profile, account)
    except InvalidInputError as exc:
        field = exc.field
        if not field.startswith("account."):
            field = "account." + (field if field.startswith("positions[") else f"positions[0].{field}")
        raise ScenarioError(path, field, exc.reason) from None
    if args.json:
        out = {"file": path, "name": scenario.name, "description": scenario.description, **aq.as_dict()}
        out["positions"] = [quote_to_json(profile, q, explain=args.explain) for q in aq.positions]
        print_json(out)
        return EXIT_OK
    print("\n".join(_evaluate_lines(path, scenario.name, profile, aq, explain=args.explain)))
    return EXIT_OK


def _evaluate_lines(path: str, name: str, profile: Profile, aq: AccountQuote, *, explain: bool) -> list[str]:
    header = ("#", "symbol", "side", "qty", "entry", "lev", "mode", "mark", "IM", "MM", "uPnL", "LP", "BP", "liq now")
    rows = []
    for i, q in enumerate(aq.positions):
        p = q.position
        tick = profile.contract(p.symbol).tick_size
        a = q.settle_asset
        rows.append((str(i), p.symbol, p.side.value, fmt.num(p.qty_base), fmt.price(p.entry_price, tick),
                     f"{p.leverage:g}x", p.mode.value, fmt.price(q.mark, tick), fmt.amount(q.initial_margin, a),
                     fmt.amount(q.maintenance_margin, a), _money(q.unrealized_pnl, a),
                     fmt.price(q.liquidation_price, tick) + ("*" if q.shares_lp_with else ""),
                     fmt.price(q.bankruptcy_price, tick), _yes_no(q.liquidatable_now)))
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
    left = {1, 2, 6}

    def fmt_row(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    ccy = aq.settle_asset
    inverse = any(profile.contract(q.position.symbol).is_inverse for q in aq.positions)
    lines = [f"{name or Path(path).name}: {len(aq.positions)} position{'s' * (len(aq.positions) != 1)} on "
             f"{profile.id} ({profile.name}, as of {profile.as_of}), {aq.account.position_mode.value.replace('_', '-')} "
             "mode" + (f"; qty in contracts, amounts in {ccy}" if inverse else ""),
             "", fmt_row(header), *map(fmt_row, rows), ""]
    if any(q.position.mode is MarginMode.CROSS for q in aq.positions):
        lines += [
            f"  {'Wallet (cross)':<26}{fmt.amount(aq.account.wallet_usd, ccy):>16} {ccy}",
            f"  {'Cross equity':<26}{fmt.amount(aq.cross_equity, ccy):>16} {ccy}",
            f"  {'Cross maintenance margin':<26}{fmt.amount(aq.cross_maintenance, ccy):>16} {ccy}",
            f"  {'Cross margin ratio':<26}{fmt.pct(aq.cross_margin_ratio):>16}   (100 % liquidates)",
            f"  {'Cross liquidatable now':<26}{_yes_no(aq.cross_liquidatable_now):>16}",
            "  Each cross liquidation price holds the other symbols' positions at their marks.",
        ]
        if any(q.shares_lp_with for q in aq.positions):
            lines.append("  * cross legs of one symbol (hedge mode) share one liquidation price, solved together.")
    else:
        lines.append(f"  Wallet {fmt.amount(aq.account.wallet_usd, ccy)} {ccy}; every position is isolated.")
    if explain:
        for i, q in enumerate(aq.positions):
            lines += ["", f"#{i} {q.position.symbol} {q.position.side.value}:", *explain_lines(q)[2:]]
    return lines


if __name__ == "__main__":  # python -m core.cli
    # COMMANDS names this module "core.cli": let that name find this run's copy rather than load a
    # second one (with a second CliError that main would not recognise).
    sys.modules.setdefault("core.cli", sys.modules[__name__])
    raise SystemExit(main())
