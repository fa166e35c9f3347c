"""GenerateSections: the Generate tab's side panel pages, Latent, Sliders, Animate, Project and Favourites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLayout, QTabWidget, QWidget

from fashionstudio.gui.widgets.animation_panel import AnimationPanel
from fashionstudio.gui.widgets.direction_panel import DirectionPanel
from fashionstudio.gui.widgets.favourites_strip import FavouritesPanel
from fashionstudio.gui.widgets.latent_controls import LatentControls
from fashionstudio.gui.widgets.projection_panel import ProjectionPanel


class GenerateSections(QTabWidget):
    """The five pages as ``latent``, ``directions``, ``animation``, ``projection`` and ``favourites``;
    ``engine(model)``, ``layer_presets()`` and ``model()`` (the loaded one) come from the tab."""

    def __init__(self, psi: float, engine: Callable[[Any], Any], layer_presets: Callable[[], dict[str, Any]],
                 model: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.setStyleSheet("QTabBar::tab { padding: 4px 6px; }")  # five sections fit the side panel
        self.latent = LatentControls(psi, layer_presets)
        self.directions = DirectionPanel(engine, layer_presets, model)
        self.animation = AnimationPanel()
        self.projection = ProjectionPanel()
        self.favourites = FavouritesPanel()
        for page, title in ((self.latent, "Latent"), (self.directions, "Sliders"), (self.animation, "Animate"),
                            (self.projection, "Project"), (self.favourites, "Favourites")):
            self.addTab(page, title)

    def fill(self, controls: QLayout, side_panel: QWidget) -> None:
        """Add the pages to the tool frame's ``controls``; the stretch below them (in the side panel, or in its
        scrolling holder) goes to the pages."""
        controls.addWidget(self, 100)
        parent = controls.parent()
        side = parent if isinstance(parent, QLayout) else side_panel.layout()
        for i in range(side.count()):
            item = side.itemAt(i)
            if item.layout() is controls:
                side.setStretch(i, 1)
            elif item.spacerItem() is not None:
                side.setStretch(i, 0)
