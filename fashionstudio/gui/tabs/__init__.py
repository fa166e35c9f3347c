"""One module per tab. ``TAB_CLASSES`` is the order the main window shows them in."""

from __future__ import annotations

from fashionstudio.gui.tabs.extract_tab import ExtractTab
from fashionstudio.gui.tabs.generate_tab import GenerateTab
from fashionstudio.gui.tabs.match_tab import MatchTab
from fashionstudio.gui.tabs.pose_tab import PoseTab
from fashionstudio.gui.tabs.train_tab import TrainTab

TAB_CLASSES = (PoseTab, ExtractTab, MatchTab, GenerateTab, TrainTab)

__all__ = ["TAB_CLASSES", "PoseTab", "ExtractTab", "MatchTab", "GenerateTab", "TrainTab"]
