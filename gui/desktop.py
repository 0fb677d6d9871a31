"""``marginlab --install-desktop``: the menu entry, the icons and the scenario file type, for one user.

Copies the shipped files (``resources/``) into the user's XDG data folder, ``$XDG_DATA_HOME`` or
``~/.local/share`` (https://specifications.freedesktop.org/basedir-spec/latest/):

- ``applications/marginlab.desktop``, its ``Exec`` line pointing at the installed ``marginlab``;
- ``icons/hicolor/scalable/apps/marginlab.svg`` and ``icons/hicolor/256x256/apps/marginlab.png``;
- ``mime/packages/marginlab-scenario.xml``, the type ``application/x-marginlab-scenario``
  (``*.marginlab.json``, or a JSON file whose ``"kind"`` is ``"marginlab.scenario"``).

then refreshes the desktop's caches with ``update-desktop-database``, ``update-mime-database`` and
``gtk-update-icon-cache`` where they are installed (a desktop without them reads the files
directly). ``--uninstall-desktop`` removes the same files. No Qt here: it runs before any window.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from core.paths import resources_dir

APP_ID: Final = "marginlab"  # the .desktop file's name, the icon's name, QGuiApplication's desktopFileName
MIME_XML: Final = "marginlab-scenario.xml"

Runner = Callable[..., Any]  # subprocess.run's signature


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` where it is unset or not absolute (the spec's rule).

    Examples
    --------
    >>> data_home({"XDG_DATA_HOME": "/data/u", "HOME": "/home/u"}).as_posix()
    '/data/u'
    >>> data_home({"XDG_DATA_HOME": "relative/dir", "HOME": "/home/u"}).as_posix()
    '/home/u/.local/share'
    """
    env = os.environ if environ is None else environ
    value = env.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share"


def launcher(argv0: str | None = None) -> str:
    """The command the menu entry runs: the absolute path of the ``marginlab`` script where found.

    In order: the script this process was started as (``argv0``), the one installed beside the
    running interpreter, the one on ``PATH``; else the bare name, left to the desktop's ``PATH``.
    """
    candidates = []
    if argv0 and Path(argv0).name == APP_ID:
        candidates.append(Path(argv0))
    candidates.append(Path(sysconfig.get_path("scripts")) / APP_ID)
    on_path = shutil.which(APP_ID)
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.absolute())
    return APP_ID


_RESERVED: Final = frozenset(" \t\n\"'\\><~|&;$*?#()`")


def exec_argument(arg: str) -> str:
    """One argument of a desktop entry's ``Exec`` value, quoted and escaped as the spec requires.

    A ``%`` is doubled; an argument with a reserved character (a space, a quote, ``$`` ...) goes in
    double quotes, with a double quote, backtick, dollar or backslash inside escaped by a backslash;
    then every backslash is doubled, the escaping of any string value in the file.

    References
    ----------
    https://specifications.freedesktop.org/desktop-entry-spec/latest/exec-variables.html

    Examples
    --------
    >>> exec_argument("/home/ann/.venv/bin/marginlab")
    '/home/ann/.venv/bin/marginlab'
    >>> exec_argument("/home/ann/my apps/bin/marginlab")
    '"/home/ann/my apps/bin/marginlab"'
    >>> print(exec_argument("/opt/$x/100%/marginlab"))
    "/opt/\\\\$x/100%%/marginlab"
    """
    arg = arg.replace("%", "%%")
    if not arg or any(c in _RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")


def desktop_entry(command: str) -> str:
    """The shipped ``marginlab.desktop`` with its ``Exec`` line running ``command FILE``."""
    lines = (resources_dir() / f"{APP_ID}.desktop").read_text(encoding="utf-8").splitlines()
    out = [f"Exec={exec_argument(command)} %f" if line.startswith("Exec=") else line for line in lines]
    return "\n".join(out) + "\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (bytes 16-23 of the IHDR chunk)."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def installed_files(data: Path) -> dict[Path, Path]:
    """Where each shipped file goes under the data folder ``data``: {destination: source}."""
    res = resources_dir()
    png = res / "icons" / f"{APP_ID}.png"
    width, height = png_size(png)
    hicolor = data / "icons" / "hicolor"
    return {
        data / "applications" / f"{APP_ID}.desktop": res / f"{APP_ID}.desktop",
        hicolor / "scalable" / "apps" / f"{APP_ID}.svg": res / "icons" / f"{APP_ID}.svg",
        hicolor / f"{width}x{height}" / "apps" / f"{APP_ID}.png": png,
        data / "mime" / "packages" / MIME_XML: res / MIME_XML,
    }


def _refresh(data: Path, which: Callable[[str], str | None], run: Runner) -> list[str]:
    """Run each cache tool that is installed; a line for each that ran, or failed."""
    hicolor = data / "icons" / "hicolor"
    tools = [("update-desktop-database", ["-q", str(data / "applications")]),
             ("update-mime-database", [str(data / "mime")])]
    # As xdg-icon-resource does: an icon cache only for a theme folder with an index (a cache
    # elsewhere would go stale when another program adds an icon without refreshing it).
    if (hicolor / "index.theme").is_file():
        tools.append(("gtk-update-icon-cache", ["-q", str(hicolor)]))
    lines = []
    for name, args in tools:
        exe = which(name)
        if exe is None:
            continue
        try:
            r = run([exe, *args], capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            lines.append(f"warning: {name} did not run: {exc}")
            continue
        if r.returncode != 0:
            detail = " ".join((r.stderr or r.stdout or "").split())
            lines.append(f"warning: {name} failed (status {r.returncode}): {detail}")
        else:
            lines.append(f"ran {name}")
    return lines


def install(data: Path, command: str, *, which: Callable[[str], str | None] = shutil.which,
            run: Runner = subprocess.run) -> list[str]:
    """Copy the entry, icons and MIME type under ``data``; the report, one line per file or tool."""
    lines = []
    for dest, src in installed_files(data).items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.suffix == ".desktop":
            dest.write_text(desktop_entry(command), encoding="utf-8")
        else:
            shutil.copyfile(src, dest)
        lines.append(f"wrote {dest}")
    return lines + _refresh(data, which, run)


def uninstall(data: Path, *, which: Callable[[str], str | None] = shutil.which,
              run: Runner = subprocess.run) -> list[str]:
    """Remove what :func:`install` wrote under ``data`` (folders stay); the report."""
    lines = []
    for dest in installed_files(data):
        if dest.is_file():
            dest.unlink()
            lines.append(f"removed {dest}")
    return lines + _refresh(data, which, run)


def main(*, remove: bool = False, argv0: str | None = None) -> int:
    """``marginlab --install-desktop`` (``remove``: ``--uninstall-desktop``): print the report."""
    data = data_home()
    try:
        lines = uninstall(data) if remove else install(data, launcher(argv0))
    except OSError as exc:
        print(f"marginlab: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
    if not remove:
        print("MarginLab is in the applications menu and opens scenario files (*.marginlab.json).")
    return 0
