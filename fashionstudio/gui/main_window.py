"""The main window: the five tabs, menus, status bar (device, last inference time) and remembered settings."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QUrl, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

import fashionstudio
from fashionstudio.gui.app import create_settings
from fashionstudio.gui.model_manager import DEFAULT_BUDGET_BYTES, ModelManager
from fashionstudio.gui.tabs import TAB_CLASSES
from fashionstudio.gui.tool_tab import ToolTab

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff *.gif);;All files (*)"
MODEL_FILTER = "FashionStudio models (*.safetensors);;All files (*)"
MAX_RECENT = 10
DEVICE_CHOICES = (("auto", "Automatic (best available)"), ("cpu", "CPU"), ("cuda", "CUDA GPU"), ("mps", "Apple GPU (MPS)"))


class MainWindow(QMainWindow):
    """FashionStudio's window. Call ``start()`` after ``show()``: it picks the device and loads the first model."""

    def __init__(self, settings: QSettings | None = None, device_override: str | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else create_settings()
        self.setWindowTitle(fashionstudio.APP_NAME)
        # The smallest size at which every tab's pictures and controls fit without covering each other
        # (tests/test_min_window_layout.py); the Pose tab's four pictures and side panel set the width.
        self.setMinimumSize(900, 560)
        self.resize(1280, 800)
        self._closing = False
        # False for --self-test and --screenshot: a scripted run must not become the next launch's tab and size.
        self.persist_state = True
        self._started = False
        self._dialogs: list[QMessageBox] = []

        preference = device_override or str(self.settings.value("device/preference", "auto"))
        budget = int(self.settings.value("models/budget_bytes", DEFAULT_BUDGET_BYTES))
        self.manager = ModelManager(preference, budget_bytes=budget, parent=self)
        self.manager.device_changed.connect(self._on_device_changed)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tool_tabs: dict[str, QWidget] = {}
        for cls in TAB_CLASSES:
            tab = cls(self.manager)
            self.tabs.addTab(tab, cls.title)
            self.tool_tabs[cls.tool] = tab
            if isinstance(tab, ToolTab):
                tab.status_message.connect(self.show_status)
                tab.inference_finished.connect(self._on_inference_finished)
                tab.file_opened.connect(self.add_recent_file)
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self._build_status_bar()
        self._build_menus()
        self._restore_state()

    # -- construction ---------------------------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        self.device_label = QLabel("Device: detecting…")
        self.time_label = QLabel("Last inference: none yet")
        bar.addPermanentWidget(self.time_label)
        bar.addPermanentWidget(self.device_label)

    def _action(self, menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open image…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.paste_action = self._action(file_menu, "&Paste image", self.paste, QKeySequence.StandardKey.Paste)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self.open_model_action = self._action(file_menu, "Open &model…", self.open_model_dialog)
        file_menu.addSeparator()
        self.export_action = self._action(file_menu, "&Export result…", self.export_dialog, QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit_menu, "&Redo", self.redo, QKeySequence.StandardKey.Redo)

        settings_menu = bar.addMenu("&Settings")
        device_menu = settings_menu.addMenu("&Device")
        self.device_group = QActionGroup(self)
        for value, text in DEVICE_CHOICES:
            action = QAction(text, self, checkable=True)
            action.setData(value)
            action.setChecked(value == self.manager.device_preference)
            action.triggered.connect(lambda checked=False, v=value: self.set_device_preference(v))
            self.device_group.addAction(action)
            device_menu.addAction(action)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Open &log folder", self.open_log_folder)
        self._action(help_menu, "&About FashionStudio", self.show_about)
        self._rebuild_recent_menu()

    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        index = int(self.settings.value("window/tab", 0))
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    # -- start-up -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Pick the device (imports torch, off the GUI thread) and load the visible tab's model."""
        if self._started:
            return
        self._started = True
        self.manager.start()
        self._activate(self.tabs.currentWidget())

    def is_idle(self) -> bool:
        """Device known, no model loading, no inference running (used by --screenshot/--self-test)."""
        if not self.manager.is_idle():
            return False
        return not any(isinstance(t, ToolTab) and t.is_busy() for t in self.tool_tabs.values())

    def _activate(self, tab: QWidget | None) -> None:
        if isinstance(tab, ToolTab) and self._started:
            tab.activate()

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        self._activate(self.tabs.widget(index))

    # -- helpers --------------------------------------------------------------------------------------------------
    def current_tool_tab(self) -> ToolTab | None:
        tab = self.tabs.currentWidget()
        return tab if isinstance(tab, ToolTab) else None

    def _tool_tab_for_input(self) -> ToolTab | None:
        """The tab that receives an opened image: the current one, or the first tool tab."""
        tab = self.current_tool_tab()
        if tab is not None and tab.needs_source:
            return tab
        for index in range(self.tabs.count()):
            widget = self.tabs.widget(index)
            if isinstance(widget, ToolTab) and widget.needs_source:
                self.tabs.setCurrentIndex(index)
                return widget
        return None

    def _folder(self, key: str) -> str:
        folder = str(self.settings.value(f"folders/{key}", "") or "")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def _remember_folder(self, key: str, path: str | Path) -> None:
        self.settings.setValue(f"folders/{key}", str(Path(path).parent))

    @Slot(str)
    def show_status(self, message: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self, message: str, title: str = "FashionStudio") -> None:
        """A readable, non-blocking error dialog (plus the status bar)."""
        self.show_status(message)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.finished.connect(lambda _=0, b=box: self._dialogs.remove(b) if b in self._dialogs else None)
        self._dialogs.append(box)
        box.open()

    # -- file actions ---------------------------------------------------------------------------------------------
    def open_files(self, paths: list[str | Path]) -> None:
        """Open images given on the command line ("Open with") or by other code."""
        if not paths:
            return
        tab = self._tool_tab_for_input()
        if tab is None:
            return
        if len(paths) > 1:
            self.show_status(f"{len(paths)} images given: opening the first, {Path(paths[0]).name}.")
        tab.open_image(paths[0])

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._folder("open"), IMAGE_FILTER)
        if path:
            self._remember_folder("open", path)
            self.open_files([path])

    @Slot()
    def paste(self) -> None:
        tab = self._tool_tab_for_input()
        if tab is not None:
            tab.paste()

    @Slot()
    def open_model_dialog(self) -> None:
        tab = self.current_tool_tab()
        if tab is None:
            self.show_status("Switch to a tool tab (Pose, Extract, Match or Generate) to open a model for it.")
            return
        path, _ = QFileDialog.getOpenFileName(self, f"Open a model for {tab.title}", self._folder("model"), MODEL_FILTER)
        if path:
            self._remember_folder("model", path)
            tab.open_model(path)

    @Slot()
    def export_dialog(self) -> None:
        tab = self.current_tool_tab()
        if tab is None or tab.result_image() is None:
            self.show_status("There is no result to export yet.")
            return
        start = str(Path(self._folder("export")) / tab.suggested_export_name())
        path, _ = QFileDialog.getSaveFileName(self, "Export result", start, "PNG image (*.png)")
        if not path:
            return
        try:
            written = tab.export_result(path)
        except (OSError, ValueError) as exc:
            self.show_error(f"The result could not be saved: {exc}")
            return
        self._remember_folder("export", written)
        self.show_status(f"Exported {written.name} with its provenance.")

    @Slot()
    def undo(self) -> None:
        tab = self.current_tool_tab()
        if tab is None or not tab.undo():
            self.show_status("Nothing to undo.")

    @Slot()
    def redo(self) -> None:
        tab = self.current_tool_tab()
        if tab is None or not getattr(tab, "redo", lambda: False)():
            self.show_status("Nothing to redo.")

    # -- recent files ---------------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/files", [])
        if isinstance(value, str):  # QSettings (INI) turns a one-item list into a string
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    @Slot(str)
    def add_recent_file(self, path: str) -> None:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent/files", files[:MAX_RECENT])
        self._remember_folder("open", path)
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_files([p]))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.setValue("recent/files", [])
        self._rebuild_recent_menu()

    # -- device, status -------------------------------------------------------------------------------------------
    def set_device_preference(self, preference: str) -> None:
        self.settings.setValue("device/preference", preference)
        self.device_label.setText("Device: switching…")
        self.manager.set_device_preference(preference)

    @Slot(str, str)
    def _on_device_changed(self, description: str, reason: str) -> None:
        # The reason is shown, not hidden in a tooltip: a silent CPU fallback is what users of similar apps
        # complain about most ("why is it slow?").
        why = reason.split(": ", 1)[-1]
        self.device_label.setText(f"Device: {description} · {why}")
        self.device_label.setToolTip(reason)

    @Slot(float)
    def _on_inference_finished(self, elapsed_ms: float) -> None:
        shown = f"{elapsed_ms:.0f} ms" if elapsed_ms < 10_000 else f"{elapsed_ms / 1000:.1f} s"
        self.time_label.setText(f"Last inference: {shown}")

    # -- help -----------------------------------------------------------------------------------------------------
    @Slot()
    def open_log_folder(self) -> None:
        from fashionstudio.core.applog import log_dir

        folder = log_dir()
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.show_status(f"The log folder is {folder}")

    @Slot()
    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About FashionStudio")
        box.setText(
            f"<b>FashionStudio {fashionstudio.__version__}</b><br>Pose change, garment extraction, style matching "
            "and generation of fashion images with GANs, and a place to train them on your own collections."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        self._dialogs.append(box)
        box.finished.connect(lambda _=0, b=box: self._dialogs.remove(b) if b in self._dialogs else None)
        box.open()

    # -- closing --------------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self._closing:
            self._closing = True
            if self.persist_state:
                self.settings.setValue("window/geometry", self.saveGeometry())
                self.settings.setValue("window/tab", self.tabs.currentIndex())
                self.settings.sync()
            self.hide()  # looks closed at once; the wait below is for work already running
            t0 = time.perf_counter()
            for index in range(self.tabs.count()):  # every tab, the Train tab's running trainers included
                tab = self.tabs.widget(index)
                if hasattr(tab, "shutdown"):
                    tab.shutdown()
            self.manager.shutdown()
            log.info("closed (waited %.0f ms for background work)", (time.perf_counter() - t0) * 1000)
        event.accept()
