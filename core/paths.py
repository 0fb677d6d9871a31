"""Where the shipped resources are, from a clone or from an installed wheel. No platformdirs here:
the GUI and the CLI pass the user's directories in explicitly."""
from __future__ import annotations

from importlib import resources as _ir
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: beside ``core/`` in a clone, ``marginlab_resources`` in a wheel."""
    here = Path(__file__).resolve().parent.parent / "resources"
    if (here / "exchanges").is_dir():
        return here
    return Path(str(_ir.files("marginlab_resources")))


def exchanges_dir() -> Path:
    return resources_dir() / "exchanges"


def scenarios_dir() -> Path:
    return resources_dir() / "scenarios"
