"""``marginlab-cli simulate FILE``: play a scenario file's liquidation waterfall.

:func:`run` is the command's function (``core.cli.COMMANDS``; its flags are declared in
``core.cli``). Output for people: the events, the five prices of each liquidation and every party's
start and end balance. With ``--json``: one object with ``events``, ``ledger`` (each ``t``,
``from``, ``to``, ``amount``, ``reason``), ``parties`` (each ``name``, ``start``, ``end``),
``liquidations`` and ``open_positions``. ``--funding-rate R`` plays the run with funding at ``R``
per interval (docs/domain.md §9). A bad file exits with status 2 and one line naming the
file and the field path (``s.json: simulation.path.sigma: must be in (0, 10], got -1``).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core import cli
from core.errors import InvalidInputError, ScenarioError, UnknownProfileError
from core.scenario import load_scenario
from core.simspec import FundingSpec
from core.simulate import run_scenario


def run(args: argparse.Namespace) -> int:
    """The command: returns the exit status; raises core errors that name the file and field."""
    path = str(args.file)
    scenario = load_scenario(args.file)
    if args.funding_rate is not None and scenario.simulation is not None:
        spec = scenario.simulation
        interval = spec.funding.interval_h if spec.funding is not None else None
        scenario = replace(scenario, simulation=replace(spec, funding=FundingSpec(rate=args.funding_rate,
                                                                                 interval_h=interval)))
    profiles = cli.load_profile_set(args)
    try:
        profiles.get(scenario.exchange)
    except UnknownProfileError as exc:
        raise ScenarioError(path, "exchange", exc.reason) from None
    try:
        result = run_scenario(scenario, profiles, base_dir=Path(args.file).resolve().parent)
    except InvalidInputError as exc:
        raise ScenarioError(path, exc.field, exc.reason) from None
    if args.json:
        cli.print_json({"file": path, "name": scenario.name, "description": scenario.description,
                        **result.as_dict()})
        return 0
    head = [f"{path}: {scenario.name}" if scenario.name else path]
    if scenario.description:
        head.append(scenario.description)
    print("\n".join([*head, result.summary()]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``marginlab-cli simulate ARGV`` (tests, scripts): the CLI's own parsing and errors."""
    return cli.main(["simulate", *(argv or [])])
