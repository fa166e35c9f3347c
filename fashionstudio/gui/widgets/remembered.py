"""remember_choices: combo boxes and spin boxes whose values outlive a session (QSettings, like the rest of the app)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QWidget


def remember_choices(settings: QSettings, prefix: str, widgets: dict[str, QWidget]) -> None:
    """Show each widget's stored value (``prefix/key``; a damaged one keeps the default) and store every change."""
    for key, widget in widgets.items():
        value = settings.value(f"{prefix}/{key}")
        widget.blockSignals(True)
        try:
            if isinstance(widget, QComboBox):
                index = widget.findData(str(value)) if value is not None else -1
                if index >= 0:
                    widget.setCurrentIndex(index)
            elif value is not None:
                widget.setValue(int(value))
        except (TypeError, ValueError):
            pass  # a damaged setting keeps the default
        finally:
            widget.blockSignals(False)
        signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
        signal.connect(lambda _=None, k=key, w=widget: settings.setValue(
            f"{prefix}/{k}", w.currentData() if isinstance(w, QComboBox) else w.value()))
