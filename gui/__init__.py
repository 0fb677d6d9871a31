"""MarginLab's Qt application. Everything it shows is computed by ``core``."""
from __future__ import annotations

from gui._compat import keep_none_alive

keep_none_alive()
