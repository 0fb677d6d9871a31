"""MarginLab's margin engine: frozen data and broadcasting functions, numpy only, never Qt."""
from __future__ import annotations

__version__ = "0.1.0"
