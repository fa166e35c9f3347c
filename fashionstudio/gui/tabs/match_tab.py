"""Match tab (placeholder frame): find handbags that match a shoe, and back. The tool itself lands in fashionstudio/core/match.py."""

from __future__ import annotations

from fashionstudio.gui.tool_tab import ToolTab


class MatchTab(ToolTab):
    tool = "match"
    title = "Match"
    source_placeholder = "Drop a shoe or a handbag here"
    # run_request() is not implemented yet: the base class tells the user the tool is not available.
