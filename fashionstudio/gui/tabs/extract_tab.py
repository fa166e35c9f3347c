"""Extract tab (placeholder frame): extract the garment as a catalogue image. The tool itself lands in fashionstudio/core/extract.py."""

from __future__ import annotations

from fashionstudio.gui.tool_tab import ToolTab


class ExtractTab(ToolTab):
    tool = "extract"
    title = "Extract"
    source_placeholder = "Drop a photo of a dressed person here"
    # run_request() is not implemented yet: the base class tells the user the tool is not available.
