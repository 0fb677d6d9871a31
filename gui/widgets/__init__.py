"""Widgets of the main window; each takes the Session and shows one aspect of it."""
