"""marginlab --install-desktop: the menu entry, icons and scenario type in a temporary XDG data folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.paths import resources_dir, scenarios_dir
from gui import desktop
from gui.app import main


@pytest.fixture
def data(tmp_path, monkeypatch):
    """$XDG_DATA_HOME in the test's folder (tests/conftest.py already keeps HOME there too)."""
    d = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(d))
    return d


def no_tools(name):
    return None


def entry(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_install_writes_the_entry_icons_and_mime_type(data):
    lines = desktop.install(data, "/opt/market tools/bin/marginlab", which=no_tools)
    files = {
        data / "applications" / "marginlab.desktop",
        data / "icons" / "hicolor" / "scalable" / "apps" / "marginlab.svg",
        data / "icons" / "hicolor" / "256x256" / "apps" / "marginlab.png",  # the PNG is 256 x 256
        data / "mime" / "packages" / "marginlab-scenario.xml",
    }
    assert sorted(lines) == sorted(f"wrote {f}" for f in files)  # no cache tool: none ran
    assert {p for p in data.rglob("*") if p.is_file()} == files
    e = entry(data / "applications" / "marginlab.desktop")
    assert e["Exec"] == '"/opt/market tools/bin/marginlab" %f'  # quoted: the path has a space
    assert e["MimeType"] == "application/x-marginlab-scenario;" and e["Icon"] == "marginlab"
    assert (data / "mime" / "packages" / "marginlab-scenario.xml").read_bytes() == (
        resources_dir() / "marginlab-scenario.xml").read_bytes()
    # Everything but the Exec line is the shipped entry.
    shipped = entry(resources_dir() / "marginlab.desktop")
    assert {k: v for k, v in e.items() if k != "Exec"} == {k: v for k, v in shipped.items() if k != "Exec"}

    assert sorted(desktop.uninstall(data, which=no_tools)) == sorted(f"removed {f}" for f in files)
    assert not [p for p in data.rglob("*") if p.is_file()]


def test_the_cache_tools_run_where_installed_and_their_failure_is_reported(data):
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        failed = cmd[0].endswith("update-mime-database")
        return SimpleNamespace(returncode=1 if failed else 0, stdout="", stderr="bad\npackage" if failed else "")

    lines = desktop.install(data, "marginlab", which=lambda name: f"/usr/bin/{name}", run=run)
    assert calls == [["/usr/bin/update-desktop-database", "-q", str(data / "applications")],
                     ["/usr/bin/update-mime-database", str(data / "mime")]]
    assert lines[-2:] == ["ran update-desktop-database", "warning: update-mime-database failed (status 1): bad package"]
    # An icon cache only where the hicolor folder is a theme with an index, as xdg-icon-resource does.
    (data / "icons" / "hicolor" / "index.theme").write_text("[Icon Theme]\n", encoding="utf-8")
    calls.clear()
    desktop.install(data, "marginlab", which=lambda name: f"/usr/bin/{name}", run=run)
    assert calls[-1] == ["/usr/bin/gtk-update-icon-cache", "-q", str(data / "icons" / "hicolor")]
    # A tool that cannot start is a warning too, never a failure.
    def broken(cmd, **kw):
        raise OSError("exec format error")
    assert desktop.install(data, "marginlab", which=lambda name: f"/usr/bin/{name}", run=broken)[-1] == (
        "warning: gtk-update-icon-cache did not run: exec format error")


def test_marginlab_install_desktop_option(data, capsys):
    assert main(["--install-desktop"]) == 0
    out = capsys.readouterr().out
    installed = data / "applications" / "marginlab.desktop"
    assert f"wrote {installed}" in out and "applications menu" in out
    command = entry(installed)["Exec"].removesuffix(" %f").strip('"')
    # The installed script beside this interpreter (make installs it), else the bare name.
    assert command == "marginlab" or (Path(command).is_absolute() and Path(command).name == "marginlab")
    if shutil.which("update-mime-database"):  # the MIME XML is valid: the database has the type
        assert "ran update-mime-database" in out
        assert (data / "mime" / "application" / "x-marginlab-scenario.xml").is_file()
    assert main(["--uninstall-desktop"]) == 0
    assert f"removed {installed}" in capsys.readouterr().out and not installed.exists()


def test_the_exec_line_names_the_script_this_process_started_as(tmp_path):
    script = tmp_path / "bin" / "marginlab"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    assert desktop.launcher(str(script)) == str(script)
    assert desktop.launcher(str(tmp_path / "bin" / "other")) != str(tmp_path / "bin" / "other")


@pytest.mark.slow
def test_the_desktop_knows_a_scenario_by_name_and_by_content(data, tmp_path):
    desktop.install(data, "marginlab", which=no_tools)
    named = tmp_path / "mine.marginlab.json"
    named.write_text("{}", encoding="utf-8")
    nameless = tmp_path / "download"  # no extension: the content decides
    shutil.copy(scenarios_dir() / "portfolio-mixed.json", nameless)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "something else"}), encoding="utf-8")
    # Qt reads the XDG MIME packages itself (no cache needed); a fresh process sees this folder.
    code = ("import sys; from PySide6.QtCore import QMimeDatabase; db = QMimeDatabase(); "
            "print(' '.join(db.mimeTypeForFile(f).name() for f in sys.argv[1:]))")
    env = {**os.environ, "XDG_DATA_HOME": str(data), "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", code, str(named), str(nameless), str(other)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["application/x-marginlab-scenario", "application/x-marginlab-scenario",
                                "application/json"]
