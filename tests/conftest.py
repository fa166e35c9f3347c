"""Test-wide setup: Qt runs offscreen, torch stays on few threads, settings never touch the user's real ones."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FASHIONSTUDIO_TESTING", "1")
