"""The colour theme: follow the desktop, or force light or dark (the Settings dialog's "Theme").

Kept apart from the entry point (``gui.app``) and the main window so that both can use it: the
app applies the saved theme at start, the window applies a changed one.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

# True while a forced palette is installed, so that going back to "system" restores the style's own.
_forced_palette = False


def apply_theme(theme: str) -> None:
    """'system' follows the desktop's colour scheme (and its changes); 'light'/'dark' force one.

    The colour scheme is asked of the platform (Qt >= 6.8); where the platform cannot switch (some
    desktops, the offscreen platform) a forced choice also installs Fusion with a matching palette.
    """
    app = QApplication.instance()
    hints = QGuiApplication.styleHints()
    scheme = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(theme, Qt.ColorScheme.Unknown)
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(scheme)
    global _forced_palette
    if not isinstance(app, QApplication):
        return
    if theme == "system" or hints.colorScheme() == scheme:
        if _forced_palette:  # back from a forced palette to the platform's
            app.setPalette(app.style().standardPalette())
            _forced_palette = False
        return
    _forced_palette = True
    app.setStyle(QStyleFactory.create("Fusion"))
    if theme == "light":
        app.setPalette(app.style().standardPalette())
        return
    R = QPalette.ColorRole
    pal = QPalette()
    for role, color in ((R.Window, "#23272e"), (R.WindowText, "#e6e6e6"), (R.Base, "#1b1e23"),
                        (R.AlternateBase, "#262a31"), (R.ToolTipBase, "#2d323a"), (R.ToolTipText, "#e6e6e6"),
                        (R.Text, "#e6e6e6"), (R.Button, "#2d323a"), (R.ButtonText, "#e6e6e6"),
                        (R.BrightText, "#ff6b6b"), (R.Highlight, "#3d7bd9"), (R.HighlightedText, "#ffffff"),
                        (R.Link, "#6ea8ff"), (R.PlaceholderText, "#8a9099"), (R.Mid, "#4a505a")):
        pal.setColor(role, QColor(color))
    for role in (R.Text, R.ButtonText, R.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a808a"))
    app.setPalette(pal)
