"""``marginlab-cli simulate FILE``: play a scenario file's liquidation waterfall.

Wired into ``core.cli`` through :func:`register` (``REGISTRARS.append(register)``). Output for people:
the events, the five prices of each liquidation and every party's start and end balance. With
``--json``: one object with ``events``, ``ledger`` (each ``t``, ``from``, ``to``, ``amount``,
``reason``), ``parties`` (each ``name``, ``start``, ``end``), ``liquidations`` and
``open_positions``. A bad file exits with status 2 and one line naming the file and the field path
(``s.json: simulation.path.sigma: must be > 0, got -1``).

``core.cli`` is imported inside the functions: it imports this module to wire the command in, so a
top-level import here would be circular.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError, MarginEngineError, ScenarioError, UnknownProfileError
from core.scenario import load_scenario
from core.simulate import run_scenario

DESCRIPTION = """\
Play the liquidation waterfall of a scenario file (its "simulation" section) over its price path:
margin checks at the mark, liquidation orders against a book model, partial liquidation, the
insurance fund, backstop and auto-deleveraging, under the scenario's exchange rules.

examples:
  marginlab-cli simulate resources/scenarios/lesson-faq-crash.json
  marginlab-cli simulate my.json --json | jq '.parties'
"""


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command to an argparse sub-parsers object."""
    from core.cli import add_command, add_common_arguments

    p = add_command(subparsers, "simulate", help="play a scenario file's liquidation waterfall",
                    description=DESCRIPTION)
    add_common_arguments(p, json_help="print one JSON object: events, ledger, parties, liquidations")
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file with a simulation section")
    p.set_defaults(func=run, command="simulate")


def run(args: argparse.Namespace) -> int:
    """The handler: returns the exit status; raises core errors that name the file and field."""
    from core.cli import load_profile_set, print_json

    path = str(args.file)
    scenario = load_scenario(args.file)
    profiles = load_profile_set(args)
    try:
        profiles.get(scenario.exchange)
    except UnknownProfileError as exc:
        raise ScenarioError(path, "exchange", exc.reason) from None
    try:
        result = run_scenario(scenario, profiles, base_dir=Path(args.file).resolve().parent)
    except InvalidInputError as exc:
        raise ScenarioError(path, exc.field, exc.reason) from None
    if args.json:
        print_json({"file": path, "name": scenario.name, "description": scenario.description,
                    **result.as_dict()})
        return 0
    head = [f"{path}: {scenario.name}" if scenario.name else path]
    if scenario.description:
        head.append(scenario.description)
    print("\n".join([*head, result.summary()]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``simulate`` alone (tests, scripts): the same one-line errors and status 2 as the CLI."""
    parser = argparse.ArgumentParser(prog="marginlab-cli")
    register(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(["simulate", *(argv or [])])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return run(args)
    except MarginEngineError as exc:
        print(f"marginlab-cli simulate: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
