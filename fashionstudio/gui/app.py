"""QApplication set-up: names, a light Fusion look, where settings live, and the last-resort error handler."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

import fashionstudio

log = logging.getLogger(__name__)
_testing_settings_dir: str | None = None

STYLE_SHEET = """
QMainWindow, QTabWidget > QWidget { background: #f4f5f7; }
QTabWidget::pane { border: none; }
QTabBar::tab { padding: 8px 18px; margin-right: 2px; border: none; color: #4a4f57; background: transparent; }
QTabBar::tab:selected { color: #1d1f23; border-bottom: 2px solid #3b6fd8; font-weight: 600; }
QTabBar::tab:hover:!selected { color: #1d1f23; }
QFrame#sidePanel { background: #ffffff; border: 1px solid #dfe2e7; border-radius: 8px; }
QLabel#panelHeading { font-size: 15pt; font-weight: 600; color: #1d1f23; }
QLabel#modelLabel { color: #4a4f57; }
QLabel#modelLabel[error="true"] { color: #b3261e; }
QLabel#canvasCaption { color: #6b717b; font-weight: 600; }
QLabel#placeholderText { color: #8a9099; font-size: 13pt; }
QFrame#panelRule { color: #e6e8ec; }
QScrollArea#controlsScroll, QWidget#controlsHolder { background: transparent; }
QPushButton#runButton { padding: 7px; border-radius: 6px; background: #3b6fd8; color: white; border: none; }
QPushButton#runButton:hover { background: #335fbd; }
QPushButton#runButton:disabled { background: #b8c6e6; }
QPushButton#sampleLink { color: #3b6fd8; border: none; background: transparent; text-decoration: underline;
                         padding: 4px 8px; font-size: 11pt; }
QPushButton#sampleLink:hover { color: #335fbd; }
QStatusBar { background: #eceef1; color: #3d4248; }
QStatusBar QLabel { padding: 0 10px; color: #3d4248; }
"""


def light_palette() -> QPalette:
    """A neutral light palette (explicit, so a dark desktop theme does not turn the canvases unreadable)."""
    pal = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#f4f5f7", QPalette.ColorRole.WindowText: "#1d1f23",
        QPalette.ColorRole.Base: "#ffffff", QPalette.ColorRole.AlternateBase: "#f0f1f4",
        QPalette.ColorRole.Text: "#1d1f23", QPalette.ColorRole.Button: "#f7f8fa",
        QPalette.ColorRole.ButtonText: "#1d1f23", QPalette.ColorRole.Highlight: "#3b6fd8",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#1d1f23", QPalette.ColorRole.PlaceholderText: "#8a9099",
        QPalette.ColorRole.Link: "#3b6fd8",
    }
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#a0a5ad"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#a0a5ad"))
    return pal


def choose_platform() -> str | None:
    """On Linux without any display, fall back to Qt's offscreen platform instead of aborting.

    Qt aborts the process when no platform plugin can start (no X11/Wayland display); a headless machine should
    still run the app (for --screenshot, --self-test, or a remote session), and say plainly what happened.
    """
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    print(
        "FashionStudio: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window is drawn "
        "offscreen. Run it under a desktop session or `xvfb-run` to see it.",
        file=sys.stderr,
    )
    return "offscreen"


def create_app(argv: list[str] | None = None) -> QApplication:
    """Return the QApplication (created if needed) with FashionStudio's names and look."""
    if QApplication.instance() is None and choose_platform():
        log.warning("no display: using the offscreen platform")
    app = QApplication.instance() or QApplication(list(sys.argv if argv is None else argv))
    app.setOrganizationName(fashionstudio.ORG_NAME)
    app.setApplicationName(fashionstudio.APP_NAME)
    app.setApplicationVersion(fashionstudio.__version__)
    app.setDesktopFileName("fashionstudio")  # Linux desktops match the running window to our .desktop icon
    app.setStyle("Fusion")
    app.setPalette(light_palette())
    app.setStyleSheet(STYLE_SHEET)
    icon = app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    return app


def app_icon() -> QIcon | None:
    """The app icon from the shipped resources (None when the resources are missing: not worth failing over)."""
    try:
        from fashionstudio.core.resources import resource_path

        folder = resource_path("icons")
    except (ImportError, FileNotFoundError):
        return None
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        path = folder / f"fashionstudio-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return None if icon.isNull() else icon


def create_settings() -> QSettings:
    """The app's QSettings. ``FASHIONSTUDIO_HOME`` (tests, portable use) keeps them in an INI file there; under
    ``FASHIONSTUDIO_TESTING`` without a home they go to a temporary folder, never to the user's settings."""
    global _testing_settings_dir
    home = os.environ.get("FASHIONSTUDIO_HOME")
    if home:
        return QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
    if os.environ.get("FASHIONSTUDIO_TESTING"):
        if _testing_settings_dir is None:
            _testing_settings_dir = tempfile.mkdtemp(prefix="fashionstudio-test-settings-")
        return QSettings(str(Path(_testing_settings_dir) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(fashionstudio.ORG_NAME, fashionstudio.APP_NAME)


def install_excepthook(show: Callable[[str], None]) -> None:
    """Log any uncaught exception with its traceback and show the user a readable sentence instead."""
    from fashionstudio.core.applog import log_file

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        try:
            show(
                f"Something unexpected went wrong ({kind.__name__}: {exc}). FashionStudio carries on; "
                f"the details are in the log file {log_file()}."
            )
        except Exception:  # the error display itself must never recurse into this hook
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook


class FileOpenFilter(QObject):
    """macOS sends "Open with" for a running app as a QFileOpenEvent, not as arguments: route it to the window."""

    def __init__(self, open_files: Callable[[list[str]], None]) -> None:
        super().__init__()
        self._open_files = open_files

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.FileOpen:
            path = event.file()  # type: ignore[attr-defined]
            if path:
                self._open_files([path])
                return True
        return False
