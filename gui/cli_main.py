"""The ``marginlab-cli`` console script: core's command line with the user's own profiles folder.

``core`` never looks up the user's directories (it takes explicit paths, and must not import
platformdirs); this launcher finds the same ``exchanges/`` folder the window loads
(:func:`gui.paths.user_exchanges_dir`) and hands it to :func:`core.cli.main`, so the command line
and the window quote with the same tables. It imports no Qt.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from core.cli import main as core_main
    from gui.paths import user_exchanges_dir

    return core_main(sys.argv[1:] if argv is None else argv, user_profiles_dir=user_exchanges_dir())


if __name__ == "__main__":
    raise SystemExit(main())
