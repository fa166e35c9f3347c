"""Reusable widgets of the tool tabs (pose editor, pose library, ...)."""
