"""Match tab: drop a shoe to get a handbag in its style, or a handbag to get a shoe.

The direction follows the "Shoe → Bag" / "Bag → Shoe" toggle, never a guess. Beside the result, the round trip
(shoe → bag → shoe) shows how much of the input the match kept; under it, the candidates, most faithful first:
test-time variations of the input (CycleGAN), or other shapes of the other kind in the input's style (content/style
models, with "Other shapes" and "More like this"). Click one to make it the result. Pipelines:
:mod:`fashionstudio.core.match`, :mod:`fashionstudio.core.content_style_match`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QToolButton,
    QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import ImageCanvas, pil_to_qimage
from fashionstudio.gui.app import create_settings
from fashionstudio.gui.tool_tab import ToolTab

DIRECTION_LABELS = (("shoe2bag", "Shoe → Bag"), ("bag2shoe", "Bag → Shoe"))
INPUT_KIND = {"shoe2bag": "shoe", "bag2shoe": "handbag"}
SHORT = {"shoe": "shoe", "handbag": "bag"}
THUMB = 76
PANEL_STYLE = """
QLabel#sectionLabel { color: #4a4f57; font-weight: 600; }
QLabel#hintLabel { color: #6b717b; }
QPushButton#segment { padding: 7px 6px; border: 1px solid #cfd3da; background: #f7f8fa; color: #3d4248; }
QPushButton#segment:checked { background: #3b6fd8; border-color: #3b6fd8; color: white; font-weight: 600; }
QPushButton#segment[side="left"] { border-top-left-radius: 6px; border-bottom-left-radius: 6px; border-right: none; }
QPushButton#segment[side="right"] { border-top-right-radius: 6px; border-bottom-right-radius: 6px; }
"""
RESULT_STYLE = """
QLabel#canvasCaption { color: #6b717b; font-weight: 600; }
QLabel#hintLabel { color: #6b717b; }
QToolButton#candidate { border: 1px solid #dfe2e7; border-radius: 6px; background: #ffffff; padding: 3px;
                        color: #4a4f57; }
QToolButton#candidate:checked { border: 2px solid #3b6fd8; color: #1d1f23; font-weight: 600; }
QToolButton#candidate:hover:!checked { border-color: #9fb6e8; }
QScrollArea#candidateScroll, QWidget#candidateStrip { background: transparent; }
"""


COPY_OUTLINE = 0.85  # silhouette overlap with the input from which a result is a reshaped copy, not a new item


def match_words(c: Any) -> str:
    """A designer's reading of a candidate: whether it is a new item or the input's outline, and how well the
    style survived (the pixel-level style distance; the round trip when a candidate has none)."""
    if c.shape_iou is not None and c.shape_iou >= COPY_OUTLINE:
        return f"Copies the input's outline ({c.shape_iou:.0%} overlap): a recoloured input, not a new item"
    if c.style_distance is None:
        return faithfulness_words(c.round_trip_l1).capitalize()
    if c.style_distance < 0.05:
        words = "style kept closely"
    elif c.style_distance < 0.1:
        words = "style mostly kept"
    else:
        words = "style drifted"
    return f"{words.capitalize()} (colour distance {c.style_distance:.2f})"


def faithfulness_words(l1: float) -> str:
    """A designer's reading of the round-trip difference (0 = identical, 1 = opposite)."""
    if l1 < 0.06:
        return "very faithful"
    if l1 < 0.12:
        return "faithful"
    if l1 < 0.2:
        return "loose"
    return "far from the input"


def _seeded(model: Any) -> bool:
    """Whether the Match pipeline of ``model``'s family draws its candidates from a seed (other shapes)."""
    from fashionstudio.core.match import pipeline_class

    return bool(pipeline_class(model).seeded)


class MatchTab(ToolTab):
    tool = "match"
    title = "Match"
    source_placeholder = "Drop a shoe or a handbag here"
    result_placeholder = "The match appears here"

    def __init__(self, manager: Any, parent: QWidget | None = None) -> None:
        super().__init__(manager, parent)
        self._settings = create_settings()
        remembered = str(self._settings.value("match/direction", "shoe2bag"))
        self._direction = remembered if remembered in INPUT_KIND else "shoe2bag"
        self._trip_path = ""
        self._match: Any = None  # the last MatchResult
        self._chosen = 0
        self.side_panel.setStyleSheet(PANEL_STYLE)
        self.run_button.setText("Find a match")
        self._build_controls()
        self._build_result_extras()
        self._show_shape_buttons()
        self._show_direction()

    # -- layout ---------------------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        lay = self.controls_layout
        label = QLabel("I am dropping a")
        label.setObjectName("sectionLabel")
        lay.addWidget(label)
        row = QHBoxLayout()
        row.setSpacing(0)
        self.direction_group = QButtonGroup(self)
        self.direction_group.setExclusive(True)
        self.direction_buttons: dict[str, QPushButton] = {}
        for i, (key, text) in enumerate(DIRECTION_LABELS):
            button = QPushButton(text)
            button.setObjectName("segment")
            button.setProperty("side", "left" if i == 0 else "right")
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, k=key: self.set_direction(k))
            self.direction_group.addButton(button)
            row.addWidget(button)
            self.direction_buttons[key] = button
        lay.addLayout(row)

        lay.addSpacing(6)
        count_row = QHBoxLayout()
        label = QLabel("Candidates")
        label.setObjectName("sectionLabel")
        count_row.addWidget(label)
        count_row.addStretch(1)
        self.candidates_spin = QSpinBox()
        self.candidates_spin.setRange(1, 8)
        try:
            count = int(self._settings.value("match/candidates", 4))
        except (TypeError, ValueError):  # a damaged setting falls back to the default
            count = 4
        self.candidates_spin.setValue(min(8, max(1, count)))
        self.candidates_spin.setToolTip("How many variations of the input to offer, ranked by round-trip agreement.")
        self.candidates_spin.valueChanged.connect(self._on_count_changed)
        count_row.addWidget(self.candidates_spin)
        lay.addLayout(count_row)

        self.hint_label = QLabel()
        self.hint_label.setObjectName("hintLabel")
        self.hint_label.setWordWrap(True)
        lay.addWidget(self.hint_label)

        # Content/style models only: other shapes (a new seed for the shape codes) and shapes near the chosen one.
        shapes_row = QHBoxLayout()
        self.other_shapes_button = QPushButton("Other shapes")
        self.other_shapes_button.setToolTip("Draw new candidates in the same style (another seed for their shapes).")
        self.other_shapes_button.clicked.connect(self.other_shapes)
        self.more_like_button = QPushButton("More like this")
        self.more_like_button.setToolTip("Keep the chosen candidate and offer shapes close to it.")
        self.more_like_button.clicked.connect(self.more_like_this)
        shapes_row.addWidget(self.other_shapes_button)
        shapes_row.addWidget(self.more_like_button)
        lay.addLayout(shapes_row)
        self._seed = 0
        self._near: list[float] | None = None  # the content code "More like this" samples around, for one run

    def _build_result_extras(self) -> None:
        """Round trip beside the result canvas, the ranked candidate row under it."""
        column = self.result_canvas.parentWidget()
        column.setStyleSheet(RESULT_STYLE)
        col_layout: QVBoxLayout = column.layout()  # caption, result canvas
        col_layout.removeWidget(self.result_canvas)

        beside = QHBoxLayout()
        beside.setSpacing(10)
        beside.addWidget(self.result_canvas, 1)
        trip_box = QVBoxLayout()
        trip_box.setSpacing(4)
        self.round_trip_caption = QLabel("Round trip")
        self.round_trip_caption.setObjectName("canvasCaption")
        trip_box.addWidget(self.round_trip_caption)
        self.round_trip_canvas = ImageCanvas("", accept_drops=False)
        self.round_trip_canvas.setMinimumSize(120, 120)
        self.round_trip_canvas.setFixedSize(132, 132)
        trip_box.addWidget(self.round_trip_canvas)
        self.round_trip_label = QLabel()
        self.round_trip_label.setObjectName("hintLabel")
        self.round_trip_label.setWordWrap(True)
        self.round_trip_label.setFixedWidth(132)
        trip_box.addWidget(self.round_trip_label)
        trip_box.addStretch(1)
        beside.addLayout(trip_box)
        col_layout.addLayout(beside, 1)

        self.candidates_caption = QLabel("Candidates, most faithful first")
        self.candidates_caption.setObjectName("canvasCaption")
        col_layout.addWidget(self.candidates_caption)
        # Up to eight thumbnails: in a narrow window they scroll sideways instead of piling onto each other.
        self.candidate_scroll = QScrollArea()
        self.candidate_scroll.setObjectName("candidateScroll")
        self.candidate_scroll.setWidgetResizable(True)
        self.candidate_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.candidate_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip = QWidget()
        strip.setObjectName("candidateStrip")
        self.candidate_row = QHBoxLayout(strip)
        self.candidate_row.setContentsMargins(0, 0, 0, 0)
        self.candidate_row.setSpacing(8)
        self.candidate_row.addStretch(1)
        self.candidate_scroll.setWidget(strip)
        col_layout.addWidget(self.candidate_scroll)
        self.candidate_group = QButtonGroup(self)
        self.candidate_group.setExclusive(True)
        self.candidate_buttons: list[QToolButton] = []
        self._show_candidates_visible(False)

    def _show_candidates_visible(self, visible: bool) -> None:
        self.candidates_caption.setVisible(visible)
        self.candidate_scroll.setVisible(visible)
        if self.candidate_buttons:
            # Room for one row of thumbnails plus the sideways scroll bar.
            bar = self.candidate_scroll.horizontalScrollBar().sizeHint().height()
            self.candidate_scroll.setFixedHeight(self.candidate_buttons[0].sizeHint().height() + bar + 4)
        for b in self.candidate_buttons:
            b.setVisible(visible)

    # -- direction ------------------------------------------------------------------------------------------------
    def direction(self) -> str:
        return self._direction

    def set_direction(self, direction: str) -> None:
        """Switch what the dropped image is (``shoe2bag`` or ``bag2shoe``) and re-run on the current input."""
        from fashionstudio.core.match import check_direction

        check_direction(direction)
        changed = direction != self._direction
        self._direction = direction
        self._settings.setValue("match/direction", direction)
        self._show_direction()
        if changed:
            self.check_familiarity()
            self._rerun()

    def _show_direction(self) -> None:
        for key, button in self.direction_buttons.items():
            button.setChecked(key == self._direction)
        kind = INPUT_KIND[self._direction]
        other = "handbag" if kind == "shoe" else "shoe"
        self.source_canvas.set_placeholder(f"Drop a {kind} here")
        self.result_canvas.set_placeholder(f"The matching {other} appears here")
        self.round_trip_caption.setToolTip(f"{kind} → {other} → {kind}: the match translated back")
        self._trip_path = f"{SHORT[kind]} → {SHORT[other]} → {SHORT[kind]}"
        if self._match is None:
            self.round_trip_label.setText(self._trip_path)
        self.hint_label.setText(f"The photo is read as a {kind}; switch the toggle if it shows a {other}.")
        self.refresh_sample_offer()

    def familiarity_role(self) -> str | None:
        """The input is scored against the training shoes or bags, following the toggle."""
        return "bag" if getattr(self, "_direction", "shoe2bag") == "bag2shoe" else "shoe"

    def sample_name(self) -> str | None:
        """The sample shoe or handbag, following the toggle."""
        return "bag" if getattr(self, "_direction", "shoe2bag") == "bag2shoe" else "shoe"

    def _on_count_changed(self, count: int) -> None:
        self._settings.setValue("match/candidates", count)
        self._rerun()

    def _rerun(self) -> None:
        if self.model is not None and self.source_image() is not None:
            self.trigger()

    # -- ToolTab hooks --------------------------------------------------------------------------------------------
    def run_request(self) -> Callable[[], Any] | None:
        model, photo = self.model, self.source_image()
        if model is None:
            self.status_message.emit("Open a match model first (File > Open model…).")
            return None
        if photo is None:
            self.status_message.emit(f"Drop a {INPUT_KIND[self._direction]} first.")
            return None
        direction, count, seed, near = self._direction, self.candidates_spin.value(), self._seed, self._near
        self._near = None

        def job() -> Any:
            from fashionstudio.core.match import make_matcher

            matcher = make_matcher(model)
            if not matcher.seeded:
                return matcher.run(photo, direction, count)
            if near is not None:
                return matcher.more_like(photo, direction, near, max(2, count), seed=seed)
            return matcher.run(photo, direction, count, seed=seed)

        return job

    def _on_model_ready(self, key: str, model: Any) -> None:
        super()._on_model_ready(key, model)
        if key == self.tool:  # the shape buttons and the candidates' wording follow the model's family
            self._show_shape_buttons()

    def _show_shape_buttons(self) -> None:
        shapes = self.model is not None and _seeded(self.model)  # content/style models draw shapes from seeds
        self.other_shapes_button.setVisible(shapes)
        self.more_like_button.setVisible(shapes)
        # A content/style model's candidates are new items of the other kind, not variations of the input.
        self.candidates_caption.setText("Candidates: other shapes in the input's style, best-kept style first"
                                        if shapes else "Candidates, most faithful first")
        self.candidates_spin.setToolTip("How many different items to offer in the input's style, ranked by how "
                                        "well the style survives the round trip." if shapes else
                                        "How many variations of the input to offer, ranked by round-trip agreement.")
        chosen = self._match.candidates[self._chosen] if self._match is not None else None
        self.other_shapes_button.setEnabled(self._match is not None)
        self.more_like_button.setEnabled(chosen is not None and chosen.code is not None)

    def other_shapes(self) -> None:
        """New candidates in the same style: the next seed for the shape codes."""
        self._seed += 1
        self._rerun()

    def more_like_this(self) -> None:
        """Keep the chosen candidate and offer shapes near it (a new seed for the neighbours each time)."""
        if self._match is None or self._match.candidates[self._chosen].code is None:
            return
        self._near = list(self._match.candidates[self._chosen].code)
        self._seed += 1
        self._rerun()

    def show_result(self, result: Any) -> None:
        self._match = result
        self._fill_candidates(result)
        self.choose_candidate(0)
        self._show_shape_buttons()

    def choose_candidate(self, index: int) -> None:
        """Make candidate ``index`` (0 = most faithful) the result shown and exported."""
        if self._match is None or not 0 <= index < len(self._match.candidates):
            return
        self._chosen = index
        c = self._match.candidates[index]
        self.result_canvas.set_image(c.output)
        self.round_trip_canvas.set_image(c.round_trip)
        self.round_trip_label.setText(f"{self._trip_path}\nDifference {c.round_trip_l1:.3f}\n{match_words(c)}")
        for i, b in enumerate(self.candidate_buttons):
            b.setChecked(i == index)
        self._show_shape_buttons()
        self.result_changed.emit()

    def _fill_candidates(self, result: Any) -> None:
        for b in self.candidate_buttons:
            self.candidate_group.removeButton(b)
            self.candidate_row.removeWidget(b)
            b.deleteLater()
        self.candidate_buttons = []
        for i, c in enumerate(result.candidates):
            button = QToolButton()
            button.setObjectName("candidate")
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIcon(QIcon(QPixmap.fromImage(pil_to_qimage(c.output))))
            button.setIconSize(QSize(THUMB, THUMB))
            button.setText(f"{i + 1} · {c.round_trip_l1:.3f}")
            button.setToolTip(f"Candidate {i + 1}: {c.variation}; round-trip difference "
                              f"{c.round_trip_l1:.3f}. {match_words(c)}")
            button.clicked.connect(lambda _=False, k=i: self.choose_candidate(k))
            self.candidate_group.addButton(button)
            self.candidate_row.insertWidget(i, button)
            self.candidate_buttons.append(button)
        self._show_candidates_visible(len(result.candidates) > 1)

    def match_result(self) -> Any:
        return self._match

    def chosen_candidate(self) -> int:
        return self._chosen

    def result_image(self) -> Image.Image | None:
        return self.result_canvas.image()

    def settings(self) -> dict[str, Any]:
        if self._match is not None:
            return self._match.settings(self._chosen)
        return {"direction": self._direction}

    def suggested_export_name(self) -> str:
        stem = self.source_path.stem if self.source_path else "fashionstudio"
        return f"{stem}_{'bag' if self._direction == 'shoe2bag' else 'shoe'}.png"

    def set_source_image(self, img: Image.Image, path: Path | None = None, display: QImage | None = None) -> None:
        self._clear_match()
        super().set_source_image(img, path, display)

    def undo(self) -> bool:
        done = super().undo()
        if done:
            self._clear_match()
        return done

    def _clear_match(self) -> None:
        self._match = None
        self._chosen = 0
        self._seed = 0
        self._near = None
        self._show_shape_buttons()
        self.round_trip_canvas.clear()
        self.round_trip_label.setText(self._trip_path)
        self._show_candidates_visible(False)

    def sample_input(self) -> Image.Image:
        """A drawn shoe (or handbag, following the toggle) on white, for the self-test."""
        img = Image.new("RGB", (64, 64), (255, 255, 255))
        d = ImageDraw.Draw(img)
        if self._direction == "shoe2bag":
            d.polygon([(8, 44), (10, 30), (26, 30), (40, 38), (56, 42), (56, 50), (8, 50)], fill=(150, 60, 40))
        else:
            d.rounded_rectangle((14, 24, 50, 54), 6, fill=(40, 70, 150))
            d.arc((22, 10, 42, 34), 180, 360, fill=(40, 70, 150), width=3)
        return img
