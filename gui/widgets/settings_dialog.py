"""Preferences dialog: one control per declared setting (gui/settings.py)."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from core.profiles import ProfileSet
from gui import settings as S
from gui.live_feed import SPEEDS
from gui.widgets.chart import _speed_text


class SettingsDialog(QDialog):
    def __init__(self, settings: S.Settings, profiles: ProfileSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.profile = QComboBox()
        for p in sorted(profiles, key=lambda p: p.name):
            self.profile.addItem(f"{p.name} ({p.as_of})", p.id)
        self.profile.setCurrentIndex(max(0, self.profile.findData(settings.get(S.DEFAULT_PROFILE))))
        self.theme = QComboBox()
        for key, text in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            self.theme.addItem(text, key)
        self.theme.setCurrentIndex(self.theme.findData(settings.get(S.THEME)))
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(settings.get(S.FEED_SEED))
        self.vol = QDoubleSpinBox()
        self.vol.setRange(1.0, 1000.0)
        self.vol.setSuffix(" %/yr")
        self.vol.setValue(settings.get(S.FEED_VOLATILITY) * 100)
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(_speed_text(s), s)
        self.speed.setCurrentIndex(max(0, self.speed.findData(settings.get(S.FEED_SPEED))))
        self.autosave = QCheckBox("Keep the workspace as I work and restore it at the next start")
        self.autosave.setChecked(settings.get(S.AUTOSAVE))
        self.alerts = QCheckBox("Notify when a threshold is crossed during playback")
        self.alerts.setChecked(settings.get(S.ALERTS))
        # two margin-ratio levels and one distance (0 % = off); the settings hold any few
        ratios = settings.get(S.ALERT_MARGIN_RATIOS)[:2]
        self.ratio_spins = [_percent(ratios[i] if i < len(ratios) else 0.0) for i in range(2)]
        ratio_row = QWidget()
        row = QHBoxLayout(ratio_row)
        row.setContentsMargins(0, 0, 0, 0)
        for spin in self.ratio_spins:
            row.addWidget(spin)
        distances = settings.get(S.ALERT_DISTANCES)
        self.distance = _percent(distances[0] if distances else 0.0)
        form = QFormLayout(self)
        for setting, label, w in ((S.DEFAULT_PROFILE, "Default exchange", self.profile),
                                  (S.THEME, "Theme", self.theme), (S.FEED_SEED, "Feed seed", self.seed),
                                  (S.FEED_VOLATILITY, "Feed volatility", self.vol),
                                  (S.FEED_SPEED, "Feed speed", self.speed), (S.AUTOSAVE, "Autosave", self.autosave),
                                  (S.ALERTS, "Alerts", self.alerts),
                                  (S.ALERT_MARGIN_RATIOS, "Margin ratio alerts", ratio_row),
                                  (S.ALERT_DISTANCES, "Distance alert", self.distance)):
            w.setToolTip(setting.doc + (" 0 % turns a level off." if w is not self.alerts and setting in (
                S.ALERT_MARGIN_RATIOS, S.ALERT_DISTANCES) else ""))
            form.addRow(label, w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def apply(self) -> None:
        self.settings.set(S.DEFAULT_PROFILE, self.profile.currentData())
        self.settings.set(S.THEME, self.theme.currentData())
        self.settings.set(S.FEED_SEED, self.seed.value())
        self.settings.set(S.FEED_VOLATILITY, self.vol.value() / 100)
        self.settings.set(S.FEED_SPEED, int(self.speed.currentData()))
        self.settings.set(S.AUTOSAVE, self.autosave.isChecked())
        self.settings.set(S.ALERTS, self.alerts.isChecked())
        self.settings.set(S.ALERT_MARGIN_RATIOS, tuple(s.value() / 100 for s in self.ratio_spins if s.value() > 0))
        self.settings.set(S.ALERT_DISTANCES, (self.distance.value() / 100,) if self.distance.value() > 0 else ())


def _percent(fraction: float) -> QDoubleSpinBox:
    """A level in percent, 0 meaning off."""
    w = QDoubleSpinBox()
    w.setRange(0.0, 99.9)
    w.setDecimals(1)
    w.setSuffix(" %")
    w.setValue(fraction * 100)
    return w
