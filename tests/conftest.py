"""Test-wide setup: Qt runs offscreen, torch stays on few threads, settings never touch the user's real ones."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FASHIONSTUDIO_TESTING", "1")
# Spinning OpenMP threads fight over 2 shared cores; passive waiting made the model tests ~5x faster here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
