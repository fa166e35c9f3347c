"""Live scalar charts (pyqtgraph): one chart per tag, every ticked run overlaid in its own colour.

Like TensorBoard's scalar dashboard: EMA smoothing (the raw curve stays faintly behind the smoothed one), log
scale, step / relative time / wall time on x, and a tag filter. A chart never hands pyqtgraph a whole series:
each redraw asks :meth:`fashionstudio.core.runs.Series.display` for the visible range (plus a margin), decimated
to a min/max envelope of a few thousand points through the series' pyramid, so a million-point run redraws as
fast as a short one and appending a point costs the same whatever the length. pyqtgraph's own clip-to-view and
peak downsampling stay on for the last step to pixels.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFrame, QGraphicsItem, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSlider,
    QVBoxLayout, QWidget,
)

from fashionstudio.core.runs import RunLog
from fashionstudio.gui.workers import run_in_background


PALETTE = ("#3b6fd8", "#e4572e", "#17a398", "#f3a712", "#8e5fd1", "#db3a8e", "#4c9f38", "#8a6d3b",
           "#2bb3c0", "#6b717b")
X_AXES = (("step", "Step"), ("relative", "Relative time (hours)"), ("wall", "Wall time"))
BACKGROUND_SMOOTHING_ABOVE = 20_000   # points; longer series are re-smoothed on a worker thread
DATA_REDRAW_MS = 250                    # new points redraw a chart at most this often
INTERACTIVE_REDRAW_MS = 30              # zoom, pan, smoothing: redraw almost at once
BUCKETS = 300                           # min/max blocks per chart (600-2400 points drawn; a chart is ~400 px wide)


def tag_order(tag: str) -> tuple[int, str]:
    """Losses first, then metrics, then everything else (learning rates, weights, throughput)."""
    for rank, prefix in enumerate(("loss/", "metrics/")):
        if tag.startswith(prefix):
            return rank, tag
    return 2, tag


def _style_axis(axis: pg.AxisItem) -> None:
    axis.setTextPen(QColor("#4a4f57"))
    axis.setPen(QColor("#c9cdd4"))
    # Tick labels are the costliest part of a repaint (text drawn from a QPicture on every frame); cached as a
    # bitmap they are only redrawn when the ticks change, not each time a curve gets new points.
    axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


@dataclass
class PlottedRun:
    key: str
    log: RunLog
    color: str
    label: str


class Chart(QFrame):
    """One tag's chart."""

    range_changed = Signal(str)

    def __init__(self, tag: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tag = tag
        self.setObjectName("chartCard")
        self.setMinimumHeight(230)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 6)
        lay.setSpacing(2)
        title = QLabel(tag)
        title.setObjectName("chartTitle")
        lay.addWidget(title)
        self.widget = pg.PlotWidget(background="w")
        self.widget.setMinimumHeight(190)
        self.item = self.widget.getPlotItem()
        self.item.setClipToView(True)
        self.item.setDownsampling(auto=True, mode="peak")
        # No grid lines: pyqtgraph draws them with the axes, which then cover the whole plot and repaint with every
        # curve update.
        self.item.showGrid(x=False, y=False)
        self.item.hideButtons()
        self.item.setMenuEnabled(False)
        for side in ("left", "bottom"):
            _style_axis(self.item.getAxis(side))
        lay.addWidget(self.widget)
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.axis_kind = "step"
        self._fit_x = False  # set by an axis change: fit the x range to the new coordinates on the next redraw
        self.item.getViewBox().sigXRangeChanged.connect(lambda *_: self._on_range())

    def _on_range(self) -> None:
        if not self.item.getViewBox().autoRangeEnabled()[0]:  # the user zoomed or panned
            self.range_changed.emit(self.tag)

    def set_axis(self, kind: str) -> None:
        if kind == self.axis_kind:
            return
        self.axis_kind = kind
        axis = pg.DateAxisItem() if kind == "wall" else pg.AxisItem("bottom")
        _style_axis(axis)
        self.item.setAxisItems({"bottom": axis})
        self.item.enableAutoRange()
        # The view still spans the old axis's range (steps 0..N, while hours since the start are 0..0.01):
        # pyqtgraph's auto-downsampling then keeps no point at all, the curve has no bounds and auto-range never
        # recovers. The next redraw fits the view to the new coordinates first.
        self._fit_x = True

    def redraw(self, runs: list[PlottedRun], smoothing: float) -> int:
        """Update every run's curves; returns the number of points handed to pyqtgraph."""
        vb = self.item.getViewBox()
        x_range = None if vb.autoRangeEnabled()[0] else tuple(vb.viewRange()[0])
        shown = 0
        keys = set()
        for run in runs:
            series = run.log.series.get(self.tag)
            if series is None or len(series) == 0:
                continue
            keys.add(run.key)
            raw, smooth = self.curves.get(run.key) or self._add_curves(run)
            t0 = run.log.first_time
            if smoothing > 0:
                x, y = series.display(self.axis_kind, x_range, BUCKETS, smoothed=False, t0=t0)
                raw.setData(x, y)
                shown += x.size
            else:
                raw.setData([], [])
            x, y = series.display(self.axis_kind, x_range, BUCKETS, smoothed=smoothing > 0, t0=t0)
            smooth.setData(x, y)
            shown += x.size
        for key in list(self.curves):
            if key not in keys:
                for curve in self.curves.pop(key):
                    self.item.removeItem(curve)
        if self._fit_x and self.curves:
            self._fit_x = False
            spans = [curve.getOriginalDataset()[0] for curves in self.curves.values() for curve in curves]
            spans = [x for x in spans if x is not None and len(x)]
            if spans:
                lo, hi = min(float(x[0]) for x in spans), max(float(x[-1]) for x in spans)
                self.item.setXRange(lo, hi if hi > lo else lo + 1.0, padding=0.02)
                self.item.enableAutoRange()
        return shown

    def _add_curves(self, run: PlottedRun) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        faint = QColor(run.color)
        faint.setAlpha(60)
        raw = self.item.plot(pen=pg.mkPen(faint, width=1))
        smooth = self.item.plot(pen=pg.mkPen(QColor(run.color), width=1.6), name=run.label)
        self.curves[run.key] = (raw, smooth)
        return raw, smooth

    def points_shown(self) -> int:
        total = 0
        for raw, smooth in self.curves.values():
            for curve in (raw, smooth):
                x, _ = curve.getOriginalDataset()  # what we handed over, before pyqtgraph's own clipping
                total += 0 if x is None else len(x)
        return total


class LossPlots(QWidget):
    """The scalar dashboard: controls on top, a grid of charts below."""

    smoothing_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[PlottedRun] = []
        self.charts: dict[str, Chart] = {}
        self._dirty: set[str] = set()
        self._smoothing_generation = 0
        self.redraws = 0

        bar = QHBoxLayout()
        bar.setSpacing(10)
        bar.addWidget(QLabel("Smoothing"))
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 999)
        self.smoothing_slider.setValue(600)
        # Slider and filter shrink in a narrow window rather than being drawn over their neighbours.
        self.smoothing_slider.setMinimumWidth(60)
        self.smoothing_slider.setMaximumWidth(150)
        self.smoothing_slider.setToolTip("Exponential moving average, debiased as in TensorBoard (0 = raw values)")
        bar.addWidget(self.smoothing_slider)
        self.smoothing_label = QLabel("0.600")
        self.smoothing_label.setMinimumWidth(40)
        bar.addWidget(self.smoothing_label)
        self.log_check = QCheckBox("Log scale")
        bar.addWidget(self.log_check)
        bar.addSpacing(8)
        bar.addWidget(QLabel("X axis"))
        self.axis_combo = QComboBox()
        for value, text in X_AXES:
            self.axis_combo.addItem(text, value)
        bar.addWidget(self.axis_combo)
        bar.addStretch(1)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter charts (regex), e.g. loss|fid")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(90)
        self.filter_edit.setMaximumWidth(240)
        bar.addWidget(self.filter_edit)

        self.grid_host = QWidget()
        self.grid_host.setObjectName("chartGrid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.placeholder = QLabel("Tick runs in the list to plot their losses and metrics.")
        self.placeholder.setObjectName("placeholderText")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.grid_host)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addLayout(bar)
        lay.addWidget(self.placeholder, 1)
        lay.addWidget(self.scroll, 1)
        self.scroll.hide()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._last_redraw = 0.0
        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self._redraw_timer.timeout.connect(self._redraw_dirty)
        self._smoothing_timer = QTimer(self)
        self._smoothing_timer.setSingleShot(True)
        self._smoothing_timer.setInterval(120)
        self._smoothing_timer.timeout.connect(self._apply_smoothing)
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_slider)
        self.log_check.toggled.connect(self._on_log)
        self.axis_combo.currentIndexChanged.connect(self._on_axis)
        self.filter_edit.textChanged.connect(lambda _: self.rebuild())

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def smoothing(self) -> float:
        return self.smoothing_slider.value() / 1000.0

    @property
    def axis_kind(self) -> str:
        return str(self.axis_combo.currentData())

    def set_runs(self, runs: list[PlottedRun]) -> None:
        """The runs to overlay (in this order); their logs get the current smoothing."""
        self.runs = list(runs)
        for run in self.runs:
            if run.log.smoothing != self.smoothing:
                self._smooth_log(run.log, self.smoothing, self._smoothing_generation)
        self.rebuild()

    def data_changed(self, key: str, tags: set[str]) -> None:
        """New points arrived for run ``key``: redraw those charts soon (coalesced)."""
        if not any(r.key == key for r in self.runs):
            return
        if any(tag not in self.charts and self._wanted(tag) for tag in tags):
            self.rebuild()
            return
        self._dirty |= {t for t in tags if t in self.charts}
        # New data redraws at most every DATA_REDRAW_MS: a run read from a long file delivers chunks back to
        # back, and repainting for each would keep the GUI thread busy painting.
        wait = DATA_REDRAW_MS - (time.monotonic() - self._last_redraw) * 1000
        self._schedule(max(INTERACTIVE_REDRAW_MS, int(wait)))

    def _schedule(self, delay_ms: int) -> None:
        if self._dirty and not self._redraw_timer.isActive():
            self._redraw_timer.start(delay_ms)

    # -- charts ---------------------------------------------------------------------------------------------------
    def _wanted(self, tag: str) -> bool:
        pattern = self.filter_edit.text().strip()
        if not pattern:
            return True
        try:
            return re.search(pattern, tag, re.IGNORECASE) is not None
        except re.error:
            return pattern.lower() in tag.lower()

    def tags(self) -> list[str]:
        found = {tag for run in self.runs for tag in run.log.series}
        return sorted((t for t in found if self._wanted(t)), key=tag_order)

    def rebuild(self) -> None:
        """Create/remove charts for the tags present, lay them out, redraw all."""
        tags = self.tags()
        for tag in list(self.charts):
            if tag not in tags:
                chart = self.charts.pop(tag)
                self.grid.removeWidget(chart)
                chart.deleteLater()
        missing = [t for t in tags if t not in self.charts]
        if missing:
            # A chart costs ~20 ms to build: one per event-loop turn, so ticking a run with many tags never
            # freezes the window; the rest follow at once.
            tag = missing[0]
            chart = Chart(tag)
            chart.set_axis(self.axis_kind)
            chart.item.setLogMode(False, self.log_check.isChecked())
            chart.range_changed.connect(self._on_chart_range)
            self.charts[tag] = chart
            if len(missing) > 1:
                self._rebuild_timer.start(0)
        columns = 2
        shown = [t for t in tags if t in self.charts]
        for tag in shown:  # take them out first: adding a widget twice leaves a stale layout item behind
            self.grid.removeWidget(self.charts[tag])
        for i, tag in enumerate(shown):
            self.grid.addWidget(self.charts[tag], i // columns, i % columns)
        has = bool(tags)
        self.placeholder.setVisible(not has)
        self.scroll.setVisible(has)
        if not self.runs:
            self.placeholder.setText("Tick runs in the list to plot their losses and metrics.")
        elif not has:
            self.placeholder.setText("No scalars yet: the charts appear with the run's first logged losses."
                                     if not self.filter_edit.text().strip() else "No chart matches the filter.")
        self._dirty = set(shown)
        self._redraw_timer.stop()
        self._schedule(0)

    def _redraw_dirty(self) -> None:
        """Redraw one dirty chart, then let the event loop breathe (and paint it) before the next one."""
        order = [t for t in self.charts if t in self._dirty]
        self._dirty.clear() if not order else self._dirty.discard(order[0])
        if not order:
            return
        self.charts[order[0]].redraw(self.runs, self.smoothing)
        self._last_redraw = time.monotonic()
        self.redraws += 1
        if self._dirty:
            self._redraw_timer.start(0)

    def _on_chart_range(self, tag: str) -> None:
        self._dirty.add(tag)
        self._schedule(INTERACTIVE_REDRAW_MS)

    def _on_log(self, on: bool) -> None:
        for chart in self.charts.values():
            chart.item.setLogMode(False, on)
            chart.item.enableAutoRange()

    def _on_axis(self, _index: int) -> None:
        for chart in self.charts.values():
            chart.set_axis(self.axis_kind)
        self._dirty = set(self.charts)
        self._schedule(0)

    # -- smoothing ------------------------------------------------------------------------------------------------
    def _on_smoothing_slider(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 1000:.3f}")
        self._smoothing_timer.start()

    def _apply_smoothing(self) -> None:
        self._smoothing_generation += 1
        weight = self.smoothing
        for run in self.runs:
            self._smooth_log(run.log, weight, self._smoothing_generation)
        self._dirty = set(self.charts)
        self._schedule(0)
        self.smoothing_changed.emit(weight)

    def _smooth_log(self, log: RunLog, weight: float, generation: int) -> None:
        log.smoothing = weight  # series created from now on start with it
        for tag, series in log.series.items():
            if series.smoothing == weight:
                continue
            if len(series) <= BACKGROUND_SMOOTHING_ABOVE:
                series.set_smoothing(weight)
                continue

            def done(result: Any, series: Any = series, tag: str = tag) -> None:
                if generation == self._smoothing_generation and series.install_smoothing(result):
                    self._dirty.add(tag)
                    self._schedule(INTERACTIVE_REDRAW_MS)

            run_in_background(series.smoothing_job(weight), done, context=self)

    def pending_smoothing(self) -> bool:
        w = self.smoothing
        return any(s.smoothing != w for r in self.runs for s in r.log.series.values())
