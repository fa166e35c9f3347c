"""Pose tab (placeholder frame): change the pose of a dressed person. The tool itself lands in fashionstudio/core/pose.py."""

from __future__ import annotations

from fashionstudio.gui.tool_tab import ToolTab


class PoseTab(ToolTab):
    tool = "pose"
    title = "Pose"
    source_placeholder = "Drop a photo of a dressed person here"
    # run_request() is not implemented yet: the base class tells the user the tool is not available.
