"""Generate tab (placeholder frame): browse StyleGAN2 images with latent sliders. The tool lands in
fashionstudio/core/generate.py."""

from __future__ import annotations

from fashionstudio.gui.tool_tab import ToolTab


class GenerateTab(ToolTab):
    tool = "generate"
    title = "Generate"
    needs_source = False
    result_placeholder = "Generated images appear here"
    # run_request() is not implemented yet: the base class tells the user the tool is not available.
