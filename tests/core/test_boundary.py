"""The engine never loads Qt, pyqtgraph or platformdirs (STYLE.md §1; backs the import-linter contract)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "pyqtgraph", "platformdirs", "gui", "shiboken6")

_SCRIPT = """
import importlib, json, pkgutil, sys
import core, core.quote, core.whatif, core.scenario
for m in pkgutil.iter_modules(core.__path__):
    importlib.import_module("core." + m.name)
forbidden = %r
loaded = sorted(n for n in sys.modules if n.split(".")[0] in forbidden)
print(json.dumps({"loaded": loaded, "core": sorted(n for n in sys.modules if n.startswith("core"))}))
"""


@pytest.mark.slow
def test_core_imports_no_gui_stack(tmp_path):
    out = subprocess.run([sys.executable, "-c", _SCRIPT % (FORBIDDEN,)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    # the test really imported the engine (it would pass vacuously otherwise)
    assert {"core.quote", "core.whatif", "core.scenario", "core.liquidation"} <= set(result["core"])
