"""Model card run summary: steps, wall time over training segments, and the cost of a file exported mid-run."""

from __future__ import annotations

import json

from training.model_card import _run_summary


def _write_events(folder, events):
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_wall_time_counts_training_segments_and_stops_at_the_exported_step(tmp_path):
    _write_events(tmp_path, [
        {"time": 0.0, "kind": "status", "step": 0, "status": "started"},
        {"time": 600.0, "kind": "scalars", "step": 100},
        {"time": 1200.0, "kind": "status", "step": 200, "status": "stopped"},
        # an hour away from the machine, then a resume: the gap is not training time
        {"time": 4800.0, "kind": "status", "step": 200, "status": "resumed"},
        {"time": 5400.0, "kind": "scalars", "step": 300},
        {"time": 6000.0, "kind": "status", "step": 400, "status": "finished"},
    ])
    whole = _run_summary(tmp_path)
    assert whole["steps"] == 400 and whole["wall_minutes"] == 40.0
    assert whole["segments"] == [("started", 0), ("stopped", 200), ("resumed", 200), ("finished", 400)]
    assert _run_summary(tmp_path, exported_step=300)["wall_minutes"] == 30.0   # 20 min + 10 min
    assert _run_summary(tmp_path, exported_step=100)["wall_minutes"] == 10.0   # later segments cost nothing
    assert _run_summary(tmp_path, exported_step=400)["wall_minutes"] == 40.0
