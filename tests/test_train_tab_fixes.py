"""Train tab fixes: the relative-time axis draws, the New-run dialog sets sample and checkpoint intervals, and a
run folder copied mid-run from another machine says it is a copy."""

from __future__ import annotations

import json
import socket
import tomllib

import pytest

from fashionstudio.core.runs import RunSetupError, RunSpec, create_run, summarize_run, validate_run_spec
from fashionstudio.gui.train.new_run_dialog import NewRunDialog
from test_train_tab import chart_points, hand_made_run, make_tab, row_texts


@pytest.fixture(autouse=True)
def _env(isolated_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONSTUDIO_RUNS", str(tmp_path / "runs"))


@pytest.mark.parametrize("index, lo, hi", [(1, 0.0, 50 / 3600), (0, 1, 50)])
def test_switching_the_x_axis_keeps_every_chart_drawn(qtbot, tmp_path, index, lo, hi):
    runs = tmp_path / "runs"
    run = hand_made_run(runs, "a", n=50)
    tab = make_tab(qtbot, runs)
    qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 1, timeout=10_000)
    tab.run_list.run_model.set_checked(run, True)
    qtbot.waitUntil(lambda: chart_points(tab, "loss/G") == 50, timeout=60_000)  # a busy shared machine
    tab.plots.axis_combo.setCurrentIndex(2)  # wall time first, then the axis under test
    qtbot.wait(100)
    tab.plots.axis_combo.setCurrentIndex(index)
    for tag in ("loss/G", "loss/D"):
        chart = tab.plots.charts[tag]
        curve = chart.curves[str(run)][1]

        def drawn() -> bool:
            bounds = curve.dataBounds(0)  # what pyqtgraph actually draws, after its clipping and downsampling
            x0, x1 = chart.item.getViewBox().viewRange()[0]
            return bounds[0] is not None and x0 <= lo and x1 >= hi and (x1 - x0) < 2 * (hi - lo) + 1e-3
        qtbot.waitUntil(drawn, timeout=30_000)
        assert abs(curve.dataBounds(0)[1] - hi) < 1e-6 * max(1, hi)


def test_new_run_dialog_sets_sample_and_checkpoint_intervals(qtbot, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    dialog = NewRunDialog(runs, family="pgpg")
    qtbot.addWidget(dialog)
    dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData("demo"))
    # pre-filled from training/configs/demo/pgpg.toml's [log] table
    with open("training/configs/demo/pgpg.toml", "rb") as f:
        preset_log = tomllib.load(f)["log"]
    assert dialog.sample_spin.value() == preset_log["sample_every"]
    assert dialog.checkpoint_spin.value() == preset_log["checkpoint_every"]
    assert dialog.sample_spin.specialValueText() == "Never"
    spec = dialog.spec()
    assert spec.sample_every is None and spec.checkpoint_every is None  # unchanged: the preset stays in charge
    dialog.sample_spin.setValue(40)
    dialog.checkpoint_spin.setValue(0)
    spec = dialog.spec()
    assert (spec.sample_every, spec.checkpoint_every) == (40, 0)
    folder = create_run(runs, spec)
    with open(folder / "config.toml", "rb") as f:
        written = tomllib.load(f)
    assert written["log"] == {"sample_every": 40, "checkpoint_every": 0}


def test_negative_intervals_get_a_sentence(tmp_path):
    with pytest.raises(RunSetupError, match="steps between checkpoints must be 0"):
        validate_run_spec(RunSpec(name="x", family="pgpg", checkpoint_every=-5), tmp_path)


def _leave_lock_note(run, host: str) -> None:
    """What a trainer's folder holds while it trains: the lock file and its holder note."""
    (run / ".lock").write_text("")
    (run / ".lock-holder.json").write_text(json.dumps({"pid": 4242, "host": host, "command": "run",
                                                       "since": 1_790_000_000.0}))


def test_a_run_copied_mid_run_from_another_machine_says_it_is_a_copy(qtbot, tmp_path):
    runs = tmp_path / "runs"
    copied = hand_made_run(runs, "from-gpu-box", n=40, end=None)  # started, never said it ended
    _leave_lock_note(copied, "gpu-box-7")
    local = hand_made_run(runs, "local", n=40, end=None)
    _leave_lock_note(local, socket.gethostname())
    assert summarize_run(copied).copied_from == "gpu-box-7"
    assert summarize_run(local).copied_from is None
    tab = make_tab(qtbot, runs)
    qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 2, timeout=10_000)
    assert row_texts(tab, copied)[1] == "Copied mid-run"
    assert row_texts(tab, local)[1] in ("Running", "Crashed")  # a run of this machine keeps the old rules
    tab.select_run(copied)
    qtbot.waitUntil(lambda: tab.banner.isVisible(), timeout=10_000)
    assert "copy of a run that was training on gpu-box-7" in tab.banner.text()
    assert "step 40" in tab.banner.text() and "Copied mid-run" in tab.run_heading.text()
    assert not tab.stop_button.isEnabled()
