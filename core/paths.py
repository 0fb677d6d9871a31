"""Where the shipped resources are, from a clone or from an installed wheel. No platformdirs here:
the GUI and the CLI pass the user's directories in explicitly."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder: beside ``core/`` in a clone, ``marginlab_resources`` in a wheel."""
    here = Path(__file__).resolve().parent.parent / "resources"
    if (here / "exchanges").is_dir():
        return here
    # In a wheel, `resources/` is installed as the namespace package `marginlab_resources`
    # (pyproject's package-dir); its search location is the folder itself.
    spec = importlib.util.find_spec("marginlab_resources")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MarginLab's resources are missing: reinstall the package")
    for loc in spec.submodule_search_locations:
        if (Path(loc) / "exchanges").is_dir():
            return Path(loc)
    raise FileNotFoundError("MarginLab's resources are missing: reinstall the package")


def exchanges_dir() -> Path:
    return resources_dir() / "exchanges"


def scenarios_dir() -> Path:
    return resources_dir() / "scenarios"
