"""The main window: position form and account table, live chart, results and what-if, menus.

The window wires widgets to the session and handles files, settings and autosave; it computes no
numbers. Dialogs go through a few small methods (``ask``, ``inform``, ``ask_save``, ``open_path``,
``save_path``) so that tests can answer them without a modal loop.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import importlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QWidget,
)

from core import fmt
from core.errors import InvalidInputError, MarginEngineError
from core.paths import resources_dir
from core.persistence import atomic_write_text
from core.scenario import Scenario, load_scenario
from gui import paths, theme
from gui import settings as S
from gui.alerts import AlertWatcher
from gui.errors import show_error
from gui.saver import BackgroundWriter
from gui.session import Session
from gui.widgets.chart import QtMarkChart
from gui.widgets.position_form import QtPositionForm
from gui.widgets.position_table import QtPositionTable
from gui.widgets.results import ROWS, QtResults
from gui.widgets.settings_dialog import SettingsDialog
from gui.widgets.tips import TIPS
from gui.widgets.whatif_panel import QtWhatIfPanel
from gui.workspace import DamagedAutosave, example_scenario, read_autosave, write_autosave

if TYPE_CHECKING:  # built on first use (gui.main_window imports them lazily)
    from gui.theatre import TheatreSession
    from gui.widgets.theatre_window import QtTheatreWindow

AUTOSAVE_DELAY_MS = 1000
LAZY_TABS = (
    ("Payoff", "gui.widgets.payoff", "QtPayoffView",
     "PnL if the selected position were closed at each exit price, with entry, mark, liquidation and "
     "bankruptcy marked."),
    ("Compare", "gui.widgets.compare", "QtCompareView",
     "The selected position under every exchange profile, side by side, and why they differ."),
    ("Calculators", "gui.widgets.calculators", "QtCalculatorPanel",
     "PnL and ROE at an exit, target price, max open size, average entry, size from risk."),
    ("Stress map", "gui.widgets.stress_map", "QtStressMap",
     "Margin ratio over a grid of mark moves and leverages, and the chance of touching liquidation."),
)
SCENARIO_FILTER = "MarginLab scenario (*.json);;All files (*)"


def _unique_keys(*keys: QKeySequence.StandardKey | str) -> list[QKeySequence]:
    """The key sequences of ``keys`` (standard keys expand to the platform's list), each once."""
    out: list[QKeySequence] = []
    for k in keys:
        for seq in (QKeySequence.keyBindings(k) if isinstance(k, QKeySequence.StandardKey) else [QKeySequence(k)]):
            if not seq.isEmpty() and all(seq != o for o in out):
                out.append(seq)
    return out


def app_icon() -> QIcon:
    icons = resources_dir() / "icons"
    icon = QIcon()
    for name in ("marginlab.svg", "marginlab.png"):
        if (icons / name).exists():
            icon.addFile(str(icons / name))
    return icon


class MainWindow(QMainWindow):
    def __init__(self, session: Session, settings: S.Settings, *, autosave: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.autosave_enabled = autosave and settings.get(S.AUTOSAVE)
        self.setWindowIcon(app_icon())
        self.resize(1440, 900)

        self.form = QtPositionForm(session)
        self.table = QtPositionTable(session)
        self.chart = QtMarkChart(session)
        self.results = QtResults(session)
        self.whatif = QtWhatIfPanel(session)
        self.events = QListWidget()
        self.events.setObjectName("eventLog")
        self.events.setToolTip("What happened in this workspace: liquidations, applied what-ifs, files, feed resets.")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.whatif, "What-if")
        self.tabs.addTab(self.events, "Events")
        # The other views of the selected position are built the first time their tab is shown,
        # so they cost nothing at start-up.
        self._lazy_tabs: dict[int, tuple[str, str]] = {}
        for title, module, cls, tip in LAZY_TABS:
            placeholder = QWidget()
            i = self.tabs.addTab(placeholder, title)
            self.tabs.setTabToolTip(i, tip)
            self._lazy_tabs[i] = (module, cls)
        self.tabs.currentChanged.connect(self._build_lazy_tab)
        self.theatre_session: TheatreSession | None = None
        self.theatre_window: QtTheatreWindow | None = None

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.form)
        left.addWidget(self.table)
        left.setStretchFactor(0, 0)
        left.setStretchFactor(1, 1)
        left.setSizes([330, 520])
        self.form.heightWanted.connect(self._fit_form)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.results)
        bottom.addWidget(self.tabs)
        bottom.setSizes([520, 480])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.chart)
        right.addWidget(bottom)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 4)
        right.setSizes([470, 400])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setStretchFactor(1, 1)
        main.setSizes([392, 1048])
        self.splitters = {"main": main, "left": left, "right": right, "bottom": bottom}
        self.setCentralWidget(main)

        self._build_menus()
        self.statusBar().showMessage("Ready")
        #: The date tables are aged against (a test sets a fixed one).
        self.today: Callable[[], dt.date] = dt.date.today
        # the selected position's next funding payment and its countdown (core's numbers), as a
        # clock in the status bar: it changes every frame, so its width is fixed (never the window's)
        self.funding_label = QLabel("")
        self.funding_label.setObjectName("fundingCountdown")
        self.funding_label.setFixedWidth(self.fontMetrics().horizontalAdvance("x" * 52))
        self.funding_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.statusBar().addPermanentWidget(self.funding_label)
        session.live.marketChanged.connect(self._show_next_funding)
        session.resultsChanged.connect(self._show_next_funding)
        session.live.fundingPaid.connect(lambda _ev: self.statusBar().showMessage(session.events[-1].detail))
        self.age_label = QLabel("")
        self.statusBar().addPermanentWidget(self.age_label)
        session.scenarioChanged.connect(self._show_table_age)
        QTimer.singleShot(0, self._show_table_age)

        self.writer = BackgroundWriter(self)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.write_autosave)
        session.scenarioChanged.connect(self._schedule_autosave)
        session.file.modifiedChanged.connect(self._on_modified)
        session.file.fileChanged.connect(self._update_title)
        # once laid out (a splitter has no sizes of its own before the window shows)
        session.file.fileChanged.connect(lambda: QTimer.singleShot(0, self.fit_account_table))
        session.scenarioChanged.connect(self._update_title)
        session.eventsChanged.connect(self._refresh_events)
        session.live.liquidated.connect(self._show_in_status)
        session.live.orderFilled.connect(self._show_in_status)
        self.chart.liquidationDragged.connect(self._on_liquidation_dragged)
        self.chart.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.alerts = AlertWatcher(session, ratio_levels=settings.get(S.ALERT_MARGIN_RATIOS),
                                   distance_levels=settings.get(S.ALERT_DISTANCES), enabled=settings.get(S.ALERTS),
                                   parent=self)
        self.alerts.alerted.connect(self.notify)
        self.tray: QSystemTrayIcon | None = None
        self._update_title()
        self._refresh_recent()
        self._restore_geometry()

    # ================================================================== dialogs (tests replace these)

    def ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def tell(self, title: str, text: str) -> None:
        """A message that is not an error (an import's summary); tests replace it."""
        QMessageBox.information(self, title, text)

    def inform(self, title: str, text: str) -> None:
        show_error(self, title, text)

    def ask_save(self) -> str:
        """'save', 'discard' or 'cancel' for a workspace with unsaved changes."""
        b = QMessageBox.StandardButton
        r = QMessageBox.question(self, "Unsaved changes", "Save the changes to this workspace first?",
                                 b.Save | b.Discard | b.Cancel, b.Save)
        return {b.Save: "save", b.Discard: "discard"}.get(r, "cancel")

    def open_path(self, title: str, filt: str = SCENARIO_FILTER) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self, title, str(self._last_dir()), filt)
        return Path(path) if path else None

    def open_paths(self, title: str, filt: str) -> list[Path]:
        """One or more files (a positions response and its account's)."""
        names, _ = QFileDialog.getOpenFileNames(self, title, str(self._last_dir()), filt)
        return [Path(n) for n in names]

    def notify(self, text: str) -> None:
        """An alert: a desktop notification where the platform has a tray, else the status bar."""
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(self.windowIcon(), self)
                self.tray.setToolTip("MarginLab")
                self.tray.show()
            self.tray.showMessage("MarginLab alert", text, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        self.statusBar().showMessage(f"Alert: {text}", 15_000)

    # *.marginlab.json: the name the desktop knows as a MarginLab scenario (resources/marginlab-scenario.xml)
    def save_path(self, title: str, filt: str = SCENARIO_FILTER,
                  suggested: str = "scenario.marginlab.json") -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, str(self._last_dir() / suggested), filt)
        return Path(path) if path else None

    def _last_dir(self) -> Path:
        recent = self.settings.get(S.RECENT_FILES)
        return Path(recent[0]).parent if recent else Path.home()

    # ================================================================== menus

    def _action(self, text: str, slot: object, shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        SK = QKeySequence.StandardKey
        f = mb.addMenu("&File")
        self.act_new = self._action("&New", self.new_file, SK.New,
                                    "A new, untitled workspace holding the example position to edit.")
        self.act_open = self._action("&Open…", self.open_file, SK.Open, "Open a scenario file (the CLI's format).")
        self.act_save = self._action("&Save", self.save_file, SK.Save, "Save the workspace as a scenario file.")
        self.act_save_as = self._action("Save &As…", self.save_file_as, SK.SaveAs, "Save under another name.")
        f.addActions([self.act_new, self.act_open])
        self.recent_menu = f.addMenu("Open &Recent")
        f.addActions([self.act_save, self.act_save_as])
        f.addSeparator()
        self.act_replay = self._action("Replay Price &CSV…", self.open_price_csv, None,
                                       "Replay a CSV of prices (timestamp,price or OHLC) instead of the simulated feed.")
        self.act_sim = self._action("Use Simulated &Feed", lambda: self.session.use_simulated_feed(), None,
                                    "Go back to the seeded simulated feed.")
        f.addActions([self.act_replay, self.act_sim])
        self.act_import_tiers = self._action("&Import Exchange Tiers…", self.import_exchange_tiers, None,
                                             "Read tier tables from a response saved from an exchange's public "
                                             "API into a dated profile (as `marginlab-cli profiles import`).")
        self.act_import_positions = self._action(
            "Import &Positions…", self.import_positions, None,
            "Open your account from a response saved from your exchange's private API, with the exchange's "
            "liquidation prices beside MarginLab's (as `marginlab-cli positions`).")
        f.addActions([self.act_import_tiers, self.act_import_positions])
        f.addSeparator()
        self.act_export_png = self._action("Export Chart as &PNG…", self.export_chart_png, None, "Save the chart as a picture.")
        self.act_export_results = self._action("Export &Results as CSV…", self.export_results_csv, None,
                                               "Save the results of every position, with their arithmetic.")
        self.act_export_events = self._action("Export &Events as CSV…", self.export_events_csv, None,
                                              "Save the event log (liquidations, applied what-ifs).")
        f.addActions([self.act_export_png, self.act_export_results, self.act_export_events])
        f.addSeparator()
        self.act_settings = self._action("Se&ttings…", self.edit_settings, SK.Preferences, "Default profile, theme, feed.")
        f.addAction(self.act_settings)
        f.addSeparator()
        f.addAction(self._action("&Quit", self.close, SK.Quit))

        e = mb.addMenu("&Edit")
        self.act_undo = self.session.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(_unique_keys(SK.Undo))
        self.act_redo = self.session.undo_stack.createRedoAction(self, "&Redo")
        # Ctrl+Shift+Z is the platform's Redo on Linux already: listing it twice made Qt call the
        # shortcut ambiguous and do nothing. Ctrl+Y is what Windows users reach for.
        self.act_redo.setShortcuts(_unique_keys(SK.Redo, "Ctrl+Shift+Z", "Ctrl+Y"))
        e.addActions([self.act_undo, self.act_redo])
        e.addSeparator()
        self.act_rename = self._action("Re&name Workspace…", self.rename_workspace, None,
                                       "Give this workspace a name (the window title; saved in the file).")
        e.addAction(self.act_rename)
        e.addSeparator()
        e.addAction(self._action("&Add Position", lambda: self.table._run(self.session.add_position), None,
                                 "Add a copy of the selected position."))
        e.addAction(self._action("&Remove Position", lambda: self.table._run(self.session.remove_position), None,
                                 "Remove the selected position."))

        v = mb.addMenu("&Feed")
        self.act_play = self._action("&Play / Pause", self.session.live.toggle_play, "Space", "Play or pause the feed.")
        self.act_play.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        v.addAction(self.act_play)
        v.addAction(self._action("&Reset", self.session.reset_feed, "Ctrl+R", "Back to the scenario's mark."))

        h = mb.addMenu("&Help")
        from gui.lessons import build_lessons_menu

        self.lessons_menu = build_lessons_menu(h, self.open_in_theatre)
        self.act_theatre = self._action("Liquidation &Theatre", lambda: self._theatre(show=True), None,
                                        "Play a scenario's liquidation waterfall step by step.")
        h.addAction(self.act_theatre)
        h.addSeparator()
        h.addAction(self._action("Open &Log Folder", self._show_log_location))
        h.addAction(self._action("&About MarginLab", self._about))

    def _build_lazy_tab(self, index: int) -> None:
        spec = self._lazy_tabs.pop(index, None)
        if spec is None:
            return
        module, cls = spec
        title, tip = self.tabs.tabText(index), self.tabs.tabToolTip(index)
        widget = getattr(importlib.import_module(module), cls)(self.session)
        old = self.tabs.widget(index)
        self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, title)
        self.tabs.setTabToolTip(index, tip)
        self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)
        if old is not None:
            old.deleteLater()

    def _theatre(self, *, show: bool) -> TheatreSession:
        """The liquidation theatre in its own window (room for its charts), built on first use."""
        if self.theatre_window is None or self.theatre_session is None:
            from gui.theatre import TheatreSession
            from gui.widgets.theatre_window import QtTheatreWindow

            self.theatre_session = TheatreSession(self.session.profiles, parent=self)
            self.theatre_window = QtTheatreWindow(self.theatre_session, parent=self)
        if show:
            self.theatre_window.present()
        return self.theatre_session

    def open_in_theatre(self, path: Path) -> None:
        self._theatre(show=True).open_file(path)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get(S.RECENT_FILES)
        for p in recent:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.setStatusTip(p)
            a.triggered.connect(lambda _c=False, p=p: self.open_file(Path(p)))
        self.recent_menu.setEnabled(bool(recent))

    def _fit_form(self, height: int) -> None:
        """Give the position form the height it asks for (a message under a field is read whole);
        the account table below gives it up, or takes it back when the message goes."""
        left = self.splitters["left"]
        form_h, table_h = left.sizes()
        total = form_h + table_h
        want = min(height, total - self.table.minimumSizeHint().height())
        if want > form_h:
            left.setSizes([want, total - want])

    def _on_modified(self, modified: bool) -> None:
        self.setWindowModified(modified)
        self._schedule_autosave()

    def _show_in_status(self, event: object) -> None:
        """A liquidation or an order fill in the live feed: its sentence in the status bar."""
        self.statusBar().showMessage(event.describe(self.session.tick))  # type: ignore[attr-defined]

    def _update_title(self) -> None:
        """The workspace's name, else its file's name, else "Untitled"; the file in brackets when both.

        The first-launch example and File > New are untitled until named (Edit > Rename) or saved."""
        name, file = self.session.scenario.name, self.session.file.path
        title = name or (file.name if file else "Untitled")
        if name and file:
            title += f" ({file.name})"
        self.setWindowTitle(f"{title}[*] — MarginLab")
        self.setWindowModified(self.session.file.is_modified())

    def ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def rename_workspace(self) -> None:
        name = self.ask_text("Rename workspace", "Name (empty: untitled):", self.session.scenario.name)
        if name is None:
            return
        try:
            self.session.rename(name)
        except InvalidInputError as exc:
            self.inform("Name not changed", f"{exc.field}: {exc.reason}")

    def _refresh_events(self) -> None:
        self.events.clear()
        for ev in self.session.events:
            self.events.addItem(f"{ev.wall_time}  t={ev.feed_t_s:,.0f}s  {ev.kind}: {ev.detail}")
        self.events.scrollToBottom()

    # ================================================================== start-up

    def start(self, *, restore: bool = True) -> None:
        """Restore the last workspace (offering unsaved changes back), or open the example."""
        restored = None
        if restore:
            try:
                restored = read_autosave(paths.autosave_path(), self.session.profiles)
            except DamagedAutosave as exc:
                self.inform("Last workspace not restored", str(exc))
        where = "an untitled workspace" if restored is None or restored.file is None else restored.file.name
        if restored is not None and restored.modified and not self.ask(
                "Recover unsaved changes?", f"MarginLab closed with unsaved changes in {where}. Recover them?"):
            if restored.file is not None and restored.file.exists():
                try:
                    self.session.file.open(restored.file)
                    return
                except (MarginEngineError, OSError) as exc:
                    self.inform("Could not open the last file", str(exc))
            restored = None
        if restored is not None:
            self.session.file.new_workspace(restored.scenario, path=restored.file, modified=restored.modified,
                                       selected=restored.selected)
            self.statusBar().showMessage("Restored the last workspace", 5000)
        else:
            self.session.file.new_workspace(self._example())

    def _example(self) -> Scenario:
        pid = self.settings.get(S.DEFAULT_PROFILE)
        try:
            profile = self.session.profiles.get(pid)
        except InvalidInputError:
            profile = self.session.profiles.get("classic")
        return example_scenario(profile)

    # ================================================================== files

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current workspace."""
        if not self.session.file.is_modified():
            return True
        choice = self.ask_save()
        if choice == "save":
            return self.save_file(wait=True)  # the workspace is about to go: the file must be whole first
        self._discarded = choice == "discard"
        return self._discarded

    def new_file(self) -> None:
        if self.maybe_save():
            self.session.file.new_workspace(self._example())

    def open_file(self, path: Path | None = None) -> bool:
        if not self.maybe_save():
            return False
        path = path or self.open_path("Open scenario")
        if path is None:
            return False
        try:
            self.session.file.open(path)
        except (MarginEngineError, OSError) as exc:
            self.inform("Could not open the scenario", str(exc))
            return False
        self.settings.add_recent(path)
        self._save_settings()
        self._refresh_recent()
        return True

    def save_file(self, *, wait: bool = False) -> bool:
        """File > Save: written on a worker thread (``wait``: before returning, as closing needs)."""
        if self.session.file.path is None:
            return self.save_file_as(wait=wait)
        return self._save_to(self.session.file.path, wait=wait)

    def save_file_as(self, *, wait: bool = False) -> bool:
        path = self.save_path("Save scenario as")
        return False if path is None else self._save_to(path, wait=wait)

    def _save_to(self, path: Path, *, wait: bool = True) -> bool:
        """Save to ``path``; True when it is saved (``wait``) or being saved (on the writer's thread)."""
        if not wait:
            try:
                self.session.file.save_in_background(self.writer, path, self._after_save)
            except MarginEngineError as exc:
                self.inform("Could not save", str(exc))
                return False
            self.statusBar().showMessage(f"Saving {path.name}…")
            return True
        try:
            saved = self.session.file.save(path)
        except (MarginEngineError, OSError) as exc:
            self.inform("Could not save", str(exc))
            return False
        self._after_save(saved, "")
        return True

    def _after_save(self, saved: Path | None, error: str) -> None:
        if saved is None:
            self.inform("Could not save", error)
            return
        self.settings.add_recent(saved)
        self._save_settings()
        self._refresh_recent()
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        self.write_autosave()

    def open_price_csv(self) -> None:
        path = self.open_path("Replay prices", "CSV (*.csv);;All files (*)")
        if path is None:
            return
        try:
            self.session.load_price_csv(path)
        except (MarginEngineError, OSError) as exc:
            self.inform("Could not read the prices", str(exc))

    def import_exchange_tiers(self, path: Path | None = None) -> str | None:
        """File > Import Exchange Tiers…: what `marginlab-cli profiles import FILE` does, same summary.

        The profile is written to the user's exchanges folder and the profiles are read again, so
        the new tables are used at once. Returns the summary shown (None when nothing was read).
        """
        from core.paths import exchanges_dir
        from core.profiles import load_profiles
        from core.tier_import import import_tables, read_response

        path = path or self.open_path("Import exchange tiers", "Saved API response (*.json);;All files (*)")
        if path is None:
            return None
        try:
            shipped = load_profiles([exchanges_dir()])
            result = import_tables(read_response(path), directory=paths.user_exchanges_dir(),
                                   today=self.today(), base_profiles=shipped.profiles)
        except (MarginEngineError, OSError) as exc:
            self.inform("Could not import the tiers", str(exc))
            return None
        self.session.profiles = load_profiles([exchanges_dir(), paths.user_exchanges_dir()])
        self.session.scenarioChanged.emit()
        self._show_table_age()
        summary = "\n".join(result.summary_lines())
        self.tell("Exchange tiers imported", summary)
        return summary

    def import_positions(self, paths: list[Path] | None = None) -> str | None:
        """File > Import Positions…: the account in the saved response(s), as a new workspace.

        What `marginlab-cli positions` reads (core.positions_import), on the exchange's profile, with
        the exchange's figures kept in the workspace (the account table's "Exch. LP" column). Returns
        the summary shown in the status bar (None when nothing was imported).
        """
        from core.audit import account_from_import, audit_account, choose_profile
        from core.positions_import import read_positions

        paths = paths or self.open_paths("Import positions (a response, and its account's if saved apart)",
                                         "Saved API response (*.json);;All files (*)")
        if not paths:
            return None
        try:
            imported = read_positions(paths)
            profile, why = choose_profile(self.session.profiles, imported)
            if profile is None:
                raise InvalidInputError("exchange", why)
            account, record = account_from_import(imported, profile)
            if not account.positions:
                reasons = "; ".join(f"{x.symbol}: {x.reason}" for x in record.left_out) or "the file holds none"
                raise InvalidInputError("positions", f"no position could be put in the account ({reasons})")
        except (MarginEngineError, OSError) as exc:
            self.inform("Could not import the positions", str(exc))
            return None
        if not self.maybe_save():
            return None
        names = ", ".join(p.name for p in paths)
        scenario = Scenario(exchange=profile.id, account=account, name=f"Imported from {paths[0].name}",
                            description=f"{imported.format}: the account as the exchange reported it",
                            audit=dataclasses.replace(record, source=names))
        try:
            self.session.file.new_workspace(scenario)
        except MarginEngineError as exc:
            self.inform("Could not import the positions", str(exc))
            return None
        c = audit_account(profile, account, scenario.audit or record).counts()
        summary = (f"Imported {len(account.positions)} position{'s' * (len(account.positions) != 1)} from {names} "
                   f"on {profile.id}: {c['match']} match the exchange's liquidation price, {c['explained']} "
                   f"differ for a named reason, {c['unexplained']} unexplained"
                   + (f", {len(record.left_out)} left out" if record.left_out else ""))
        self.session.log("file", summary)
        self.statusBar().showMessage(summary, 20_000)
        return summary

    def fit_account_table(self) -> None:
        """For an imported account, widen the left pane so that the account table's columns show whole
        (the exchange's column is the last), never beyond half the window; the window keeps its size."""
        if self.session.scenario.audit is None:
            return
        self.table.refresh()
        self.table.table.resizeColumnsToContents()
        t = self.table.table
        want = t.horizontalHeader().length() + t.verticalScrollBar().sizeHint().width() + 2 * t.frameWidth() + 24
        main = self.splitters["main"]
        left, right = main.sizes()
        new_left = min(want, (left + right) // 2)
        if new_left > left:
            main.setSizes([new_left, left + right - new_left])

    def _on_liquidation_dragged(self, price: float, error: str) -> None:
        """The liquidation line was dragged: the what-if tab shows the change (or why there is none)."""
        self.whatif.show_target(price, error)
        self.tabs.setCurrentWidget(self.whatif)

    def _show_table_age(self) -> None:
        """A notice in the status bar while the workspace's profile tables are over 180 days old."""
        from core.profiles import stale_notice

        notice = stale_notice(self.session.profile, today=self.today())
        self.age_label.setText("⚠ old tables" if notice else "")
        self.age_label.setToolTip(notice or "")
        if notice:
            self.statusBar().showMessage(notice, 15_000)

    # ================================================================== export

    def export_chart_png(self, path: Path | None = None) -> bool:
        path = path or self.save_path("Export chart", "PNG image (*.png)", "chart.png")
        if path is None:
            return False
        if not self.chart.plot.grab().save(str(path), "PNG"):
            self.inform("Could not export", f"Could not write {path}")
            return False
        return True

    def _show_next_funding(self) -> None:
        """The status bar's funding clock: :meth:`gui.live_feed.LiveFeed.next_funding`."""
        s = self.session
        nf = s.live.next_funding()
        text = "" if nf is None else nf.describe(s.money(abs(nf.amount), unit=True))
        if self.funding_label.text() == text:
            return
        self.funding_label.setText(text)
        if nf is not None:
            booking = s.profile.rules.funding_booking.value.replace("_", " ")
            self.funding_label.setToolTip(
                f"{TIPS['funding']}\n\nEvery {nf.interval_h:g} h of feed time, booked: {booking} "
                f"(docs/domain.md §9.2). Paid by this position in the feed so far: "
                f"{s.money(s.live.funding_paid(s.selected), unit=True)} (negative: received). The rate is the "
                "workspace's (What-if > Hold with funding sets it).")

    def results_rows(self) -> list[list[str]]:
        """Every position's numbers (from its quote) with the arithmetic, for CSV export."""
        s = self.session
        rows = [["position", "symbol", "field", "value", "arithmetic"]]
        if s.quote is None:
            return rows
        for i, q in enumerate(s.quote.positions):
            tick = s.profile.contract(q.position.symbol).tick_size
            values = {
                "entry_price": fmt.price(q.position.entry_price, tick), "mark_price": fmt.price(q.mark, tick),
                "liquidation_price": fmt.price(q.liquidation_price, tick),
                "bankruptcy_price": fmt.price(q.bankruptcy_price, tick),
                "initial_margin": s.money(q.initial_margin), "maintenance_margin": s.money(q.maintenance_margin),
                "tier": str(q.tier.index + 1), "margin_ratio": fmt.pct(q.margin_ratio),
                "distance": fmt.pct(q.distance_to_liquidation), "unrealized_pnl": s.money(q.unrealized_pnl),
                "equity": s.money(q.equity), "net_unrealized_pnl": s.money(q.net_unrealized_pnl),
                "break_even_price": fmt.price(q.break_even_price, tick),
            }
            ev = next((e for e in s.live.liquidations if e.index == i), None)
            values["fill_price"] = fmt.price(None if ev is None else ev.fill_price, tick)
            for key in [k for k, _ in ROWS] + ["margin_ratio"]:
                rows.append([str(i + 1), q.position.symbol, key, values[key], q.explain.get(key, "")])
        return rows

    def _write_csv(self, path: Path, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        atomic_write_text(path, buf.getvalue())

    def export_results_csv(self, path: Path | None = None) -> bool:
        path = path or self.save_path("Export results", "CSV (*.csv)", "results.csv")
        if path is None:
            return False
        try:
            self._write_csv(path, self.results_rows())
        except OSError as exc:
            self.inform("Could not export", str(exc))
            return False
        return True

    def export_events_csv(self, path: Path | None = None) -> bool:
        path = path or self.save_path("Export events", "CSV (*.csv)", "events.csv")
        if path is None:
            return False
        rows = [["wall_time", "feed_time_s", "kind", "detail"]]
        rows += [[e.wall_time, f"{e.feed_t_s:g}", e.kind, e.detail] for e in self.session.events]
        try:
            self._write_csv(path, rows)
        except OSError as exc:
            self.inform("Could not export", str(exc))
            return False
        return True

    # ================================================================== settings, autosave, geometry

    def edit_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self.session.profiles, self)
        if dlg.exec():
            dlg.apply()
            self._save_settings()
            self.apply_theme()
            self.alerts.configure(ratio_levels=self.settings.get(S.ALERT_MARGIN_RATIOS),
                                  distance_levels=self.settings.get(S.ALERT_DISTANCES),
                                  enabled=self.settings.get(S.ALERTS))

    def apply_theme(self) -> None:
        theme.apply_theme(self.settings.get(S.THEME))  # every chart and gauge follows (gui.palette)

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            self.statusBar().showMessage(f"Settings not saved: {exc}", 5000)

    def _schedule_autosave(self) -> None:
        if self.autosave_enabled:
            self._autosave_timer.start()

    def write_autosave(self) -> None:
        if not self.autosave_enabled:
            return
        self._autosave_timer.stop()
        s = self.session
        path, scenario, file, modified, selected = (paths.autosave_path(), s.scenario, s.file.path,
                                                    s.file.is_modified(), s.selected)

        def failed(_result: object, error: str) -> None:
            if error:
                self.statusBar().showMessage(f"Autosave failed: {error}", 5000)

        # on the writer's thread: a large workspace must not freeze the window every time it changes
        self.writer.submit("autosave", lambda: write_autosave(path, scenario, file=file, modified=modified,
                                                              selected=selected), failed)

    def _forget_discarded(self) -> None:
        """Changes were discarded on quit: the next start restores the saved file, not them."""
        if not self.autosave_enabled:
            return
        path = self.session.file.path
        try:
            if path is not None and path.exists():
                sc = load_scenario(path)
                write_autosave(paths.autosave_path(), sc, file=path, modified=False, selected=0)
            else:
                paths.autosave_path().unlink(missing_ok=True)
        except (MarginEngineError, OSError):
            paths.autosave_path().unlink(missing_ok=True)

    def _qsettings(self) -> QSettings:
        return QSettings(str(paths.qsettings_path()), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        qs = self._qsettings()
        geo = qs.value("window/geometry", QByteArray(), type=QByteArray)
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
            self._clamp_to_screen()
        for name, sp in self.splitters.items():
            st = qs.value(f"window/splitter_{name}", QByteArray(), type=QByteArray)
            if isinstance(st, QByteArray) and not st.isEmpty():
                sp.restoreState(st)

    def _clamp_to_screen(self) -> None:
        """A window restored onto a screen that is no longer connected comes back onto this one."""
        screens = QGuiApplication.screens()
        if not screens:
            return
        frame = self.frameGeometry()
        if not any(s.availableGeometry().intersects(frame) for s in screens):
            avail = QGuiApplication.primaryScreen().availableGeometry()
            self.resize(min(frame.width(), avail.width()), min(frame.height(), avail.height()))
            self.move(avail.topLeft())

    def save_geometry(self) -> None:
        qs = self._qsettings()
        qs.setValue("window/geometry", self.saveGeometry())
        for name, sp in self.splitters.items():
            qs.setValue(f"window/splitter_{name}", sp.saveState())
        qs.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.session.live.pause()
        if self.theatre_session is not None:
            self.theatre_session.close()
        self.save_geometry()
        self._autosave_timer.stop()
        self.writer.wait()  # an autosave still queued must not land after what is decided here
        if getattr(self, "_discarded", False) and self.session.file.is_modified():
            self._forget_discarded()
        else:
            self.write_autosave()
        self.writer.wait()  # every write whole before the process may end
        self._save_settings()
        event.accept()

    def _show_log_location(self) -> None:
        QMessageBox.information(self, "Log folder", f"Unexpected errors are logged in\n{paths.log_path()}")

    def _about(self) -> None:
        QMessageBox.about(self, "About MarginLab",
                          "MarginLab: margins, liquidation and bankruptcy prices of perpetual futures, to each "
                          "exchange's own rules. Numbers come from the margin engine (core); profiles are dated.")
