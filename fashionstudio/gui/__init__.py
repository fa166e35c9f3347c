"""The PySide6 layer: main window, canvases, tabs, model manager and background workers."""
