"""No import cycle among the modules of ``core`` or of ``gui`` (grimp reads the imports, runs none).

The layers contracts in pyproject.toml (lint-imports) forbid imports up the layers; this test also
catches a cycle between modules that share a layer, or that no layer lists yet.
"""
from __future__ import annotations

import grimp
import pytest


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """One shortest cycle, as the chain of modules ``a -> b -> ... -> a``, per module that starts one."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    cycles: list[list[str]] = []
    for module in modules:
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported == module or not imported.startswith(package + "."):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                cycles.append([module, *back])
                break
    return cycles


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("core", "gui", cache_dir=None)  # no cache folder in the checkout


@pytest.mark.parametrize("package", ["core", "gui"])
def test_no_import_cycle(graph, package):
    assert len([m for m in graph.modules if m.startswith(package + ".")]) > 10  # the package was read
    cycles = import_cycles(graph, package)
    assert not cycles, "import cycle: " + "; ".join(" -> ".join(c) for c in cycles)


def test_a_cycle_is_named():
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c", "p.d"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.c")
    g.add_import(importer="p.c", imported="p.a")
    g.add_import(importer="p.d", imported="p.a")  # imports into the cycle, is not part of it
    assert import_cycles(g, "p") == [["p.a", "p.b", "p.c", "p.a"], ["p.b", "p.c", "p.a", "p.b"],
                                     ["p.c", "p.a", "p.b", "p.c"]]


@pytest.mark.parametrize("package", ["core", "gui"])
def test_every_module_has_its_layer(graph, package):
    # a module no layers contract lists escapes the layering unnoticed: name every one
    import tomllib
    from pathlib import Path

    doc = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    listed: set[str] = set()
    for contract in doc["tool"]["importlinter"]["contracts"]:
        for layer in contract.get("layers", []):
            listed |= {m.strip() for m in layer.replace(":", "|").split("|")}
    modules = {m for m in graph.modules if m.startswith(package + ".") and m.count(".") == 1}
    modules -= {f"{package}.__init__"}
    if package == "gui":
        modules -= {"gui.widgets"}  # the widgets package is one layer (listed as gui.widgets)
    missing = sorted(m for m in modules if m not in listed and not any(m.startswith(x + ".") for x in listed))
    assert not missing, f"add to a layers contract in pyproject.toml: {missing}"
