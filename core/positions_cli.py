"""``marginlab-cli positions FILE [FILE2]``: your account from the exchange's own response, audited.

:func:`run` is the command's function (``core.cli.COMMANDS``; its flags are declared in
``core.cli``). It reads the saved response(s) (:func:`core.positions_import.read_positions`),
builds the account on the exchange's profile and audits it (:mod:`core.audit`): for every open
position the exchange's liquidation price (and maintenance margin, where the response has it)
beside MarginLab's, the difference in price and in basis points, and the verdict. ``--json``
prints one object with a ``positions`` list (each with ``exchange``, ``ours``, ``difference`` and
``verdict``) and a ``summary`` of the counts; ``--save FILE`` writes the account as a scenario
file with the exchange's figures in its ``audit`` section (docs/scenario-format.md).
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core import cli, fmt
from core.audit import AccountAudit, account_from_import, audit_account, choose_profile
from core.model import Account
from core.positions_import import read_positions
from core.reported import AuditRecord, LeftOut
from core.scenario import Scenario, save_scenario
from core.tier_import import parse_assignments


def run(args: argparse.Namespace) -> int:
    """The command: returns the exit status; a bad file raises a core error naming file and JSON path."""
    files = [Path(f) for f in args.files]
    if len(files) > 2:
        raise cli.CliError("FILE", f"give one or two response files, got {len(files)}")
    imported = read_positions(files, format=args.format,
                              contract_values=parse_assignments("--contract-value", args.contract_value))
    profiles = cli.load_profile_set(args)
    profile, why = choose_profile(profiles, imported, args.exchange)
    if profile is None:
        if args.exchange:
            raise cli.CliError("--exchange", why)
        record = AuditRecord(format=imported.format, source=imported.source, time_ms=imported.time_ms,
                             left_out=tuple(LeftOut(p.symbol, p.side.value, p.qty, p.entry, p.liquidation_price,
                                                    f"no_profile: {why}") for p in imported.positions),
                             notes=imported.notes)
        audit = audit_account(None, Account(profile_id=imported.exchange or "?"), record)
    else:
        cli.warn_if_stale([profile], args)
        account, record = account_from_import(imported, profile)
        audit = audit_account(profile, account, record)
    saved = None
    if args.save is not None:
        if profile is None:
            raise cli.CliError("--save", why)
        if not audit.account.positions:
            raise cli.CliError("--save", "no position of the file could be put in the account (see the verdicts)")
        name = f"Imported from {files[0].name}"
        scenario = Scenario(exchange=profile.id, account=audit.account, name=name,
                            description=f"{imported.format}: {len(audit.account.positions)} position(s) as the "
                                        f"exchange reported them, with its figures in the audit section.",
                            audit=replace(record, source=", ".join(f.name for f in files)))
        save_scenario(args.save, scenario)
        saved = str(args.save)
    if args.json:
        out = {"files": [str(f) for f in files], **audit.as_dict()}
        if saved is not None:
            out["saved"] = saved
        cli.print_json(out)
        return 0
    print("\n".join(audit_lines(audit, files)))
    if saved is not None:
        print(f"\nSaved the account as a scenario: {saved}")
    return 0


_HEADER = ("#", "symbol", "side", "size", "entry", "mark", "lev", "mode", "margin", "LP exchange", "LP MarginLab",
           "diff", "bp", "MM exchange", "MM MarginLab")


def audit_lines(audit: AccountAudit, files: Sequence[Path]) -> list[str]:
    """People's output: a table of the positions, then each verdict, then the counts."""
    p = audit.profile
    n = len(audit.positions)
    where = f"{p.id} ({p.name}, tables as of {p.as_of})" if p is not None else "no profile"
    lines = [f"{', '.join(str(f) for f in files)}: {audit.record.format}, {n} open position{'s' * (n != 1)}, "
             f"audited on {where}", ""]
    rows = []
    for k, a in enumerate(audit.positions, 1):
        q = a.quote
        tick = a.tick
        pos = q.position if q is not None else None
        mode = pos.mode.value if pos is not None else ""
        margin = "" if q is None or mode == "cross" else fmt.money(q.margin)  # cross: the wallet, below
        r = a.reported
        rows.append((str(k), a.symbol, a.side, fmt.num(a.qty), fmt.price(a.entry, tick),
                     "" if q is None else fmt.price(q.mark, tick),
                     "" if pos is None else f"{fmt.num(r.leverage or pos.leverage)}x", mode, margin,
                     fmt.price(r.liquidation_price, tick), "" if q is None else fmt.price(a.ours, tick),
                     fmt.price(a.difference, tick) if math.isfinite(a.difference) else "",
                     f"{a.difference_bp:+.2f}" if math.isfinite(a.difference_bp) else "",
                     "" if r.maintenance_margin is None else fmt.money(r.maintenance_margin),
                     "" if q is None else fmt.money(q.maintenance_margin)))
    widths = [max(len(h), *(len(row[j]) for row in rows)) if rows else len(h) for j, h in enumerate(_HEADER)]
    left = {1, 2, 7}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if j in left else c.rjust(w)
                         for j, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lines += [line(_HEADER), *map(line, rows), ""]
    if audit.quote is not None and any(x.mode.value == "cross" for x in audit.account.positions):
        exch = audit.record.account_maintenance
        lines.append(f"Cross wallet {fmt.money(audit.account.wallet_usd)}; cross maintenance margin: MarginLab "
                     f"{fmt.money(audit.quote.cross_maintenance)}"
                     + ("" if exch is None else f", the exchange {fmt.money(exch)}"))
        lines.append("")
    lines.append("Verdicts:")
    for k, a in enumerate(audit.positions, 1):
        lines.append(f"  {k} {a.symbol} {a.side}: {a.verdict.text}")
    notes = list(dict.fromkeys([*audit.record.notes, *audit.notes]))
    if notes:
        lines += ["", "Notes:", *(f"  {x}" for x in notes)]
    c = audit.counts()
    lines += ["", f"Summary: {c['match']} of {c['positions']} match, {c['explained']} explained, "
                  f"{c['unexplained']} unexplained, {c['not_modelled']} not modelled."]
    return lines
