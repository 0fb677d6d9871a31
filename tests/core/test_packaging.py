"""Packaging: every package is listed in pyproject, and a built wheel finds its resources."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("core", "gui"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            if "__pycache__" not in rel.parts:
                found.add(".".join(rel.parts))
    assert {"core", "gui"} <= found
    # each folder of resources/ is a package of data files, marginlab_resources.<folder>
    found |= {".".join(["marginlab_resources", *d.relative_to(ROOT / "resources").parts])
              for d in [ROOT / "resources", *(ROOT / "resources").rglob("*")] if d.is_dir()}
    assert "marginlab_resources.exchanges" in found
    missing = found - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_docstring_examples_run_as_doctests():
    # STYLE.md §4: the worked numbers in core's docstrings are tests; `make test` runs plain pytest.
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in ini["addopts"] and {"core", "gui"} <= set(ini["testpaths"])


_CHECK = """
import json, sys
from core.paths import resources_dir, exchanges_dir
from core.profiles import load_profiles
import core
res = resources_dir()
ps = load_profiles([exchanges_dir()])
print(json.dumps({"res": str(res), "core": core.__file__, "binance": (res / "exchanges" / "binance.json").is_file(),
                  "ids": sorted(ps.ids), "errors": [str(e) for e in ps.errors]}))
"""


@pytest.mark.slow
def test_wheel_carries_resources(tmp_path):
    # Build from a copy, so the checkout (shared with other work) gets no build/ directory.
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("core", "gui", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    if not (src / "README.md").exists():
        (src / "README.md").write_text("MarginLab\n", encoding="utf-8")
    dist = tmp_path / "dist"
    # -v: pip shows the build backend's output, where setuptools writes its warnings
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "--no-index", "-v", "-w", str(dist)], capture_output=True, text=True,
                           timeout=300, cwd=tmp_path)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    # No warning of setuptools (a package left out, data not declared, a deprecated setting): only
    # distutils' note that byte-compiling is off, which says nothing about the package.
    warnings = [line.strip() for line in (build.stdout + build.stderr).splitlines()
                if "warning" in line.lower() and "byte-compiling is disabled" not in line]
    assert warnings == []
    wheels = list(dist.glob("marginlab-*.whl"))
    assert len(wheels) == 1
    target = tmp_path / "site"
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
        for shipped in ("exchanges/binance.json", "exchanges/classic.toml", "scenarios/lesson-faq-crash.json", "marginlab.desktop",
                        "marginlab-scenario.xml", "icons/marginlab.svg", "icons/marginlab.png"):
            assert f"marginlab_resources/{shipped}" in names
        assert "marginlab-0.1.0.dist-info/licenses/LICENSE" in names
        zf.extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -S: no site processing, so the checkout's editable install (.pth finder) is not active; the
    # path holds the unpacked wheel and, after it, only the directory numpy lives in.
    numpy_home = str(Path(np.__file__).resolve().parents[1])
    boot = f"import sys; sys.path[:] = [{str(target)!r}, {numpy_home!r}] + [p for p in sys.path if 'python3' in p and 'site-packages' not in p]\n"
    out = subprocess.run([sys.executable, "-S", "-c", boot + _CHECK],
                         cwd=elsewhere, check=True, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                              "PYTHONNOUSERSITE": "1"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["core"].startswith(str(target))  # the installed copy, not the checkout
    assert result["res"].startswith(str(target)) and result["binance"]
    assert result["ids"] == ["binance", "binance-coinm", "bitmex", "bybit", "bybit-inverse", "classic",
                             "hyperliquid"] and result["errors"] == []
