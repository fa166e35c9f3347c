"""What the Train tab says about one run: its heading, details, banner, Config pane and buttons, as plain data.

Every function here is computed from what has already been read (the run's events, its summary, its
:class:`~fashionstudio.core.run_facts.RunFacts`, the trainer process this app started): nothing here touches a file,
so the GUI thread can call it on every tick.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fashionstudio.core.run_facts import RunFacts
from fashionstudio.core.run_folder import CONFIG_FILE
from fashionstudio.core.runlock import holder_sentence
from fashionstudio.core.runs import RunLog, RunSummary, trainable_families

STATE_TEXT = {"running": "Running", "finished": "Finished", "stopped": "Stopped", "crashed": "Crashed",
              "new": "Not started", "elsewhere": "Running elsewhere", "copied": "Copied mid-run"}
ELSEWHERE_TIP = "This run was started elsewhere (a terminal or another machine): stop it there."


@dataclass(frozen=True)
class RunView:
    """The run's part of the side panel and the banner above the charts."""

    heading: str
    info: str
    banner: str | None = None
    banner_kind: str = "info"     # "info" or "error"


NO_RUN = RunView(heading="No run selected",
                 info="Create a run with “New run…”, or copy run folders into the runs folder.")


@dataclass(frozen=True)
class Actions:
    """Which buttons are enabled for the selected run."""

    start: bool = False
    stop: bool = False
    stop_tip: str = ""
    resume: bool = False
    use: bool = False
    folder: bool = False


def heading(name: str, state: str) -> str:
    return f"{name} — {STATE_TEXT.get(state, state)}"


def info_lines(family: str, log: RunLog | None, has_checkpoint: bool) -> list[str]:
    """The model, the step, the device and the last event's time, as the details under the heading."""
    families = trainable_families()
    lines = [families[family].display_label if family in families else f"Family: {family or '?'}"]
    if log is not None and log.n_events:
        total = log.total_steps
        lines.append(f"Step {log.last_step:,}" + (f" of {total:,}" if total else ""))
        info = log.info
        if info.get("device"):
            lines.append(f"Device: {info['device']}, {info.get('precision', 'fp32')}, batch "
                         f"{info.get('batch_size', '?')}" + (f" × {info['world_size']} processes"
                                                             if info.get("world_size", 1) > 1 else ""))
        for note in info.get("notes") or []:
            lines.append(f"Note: {note}")
        if log.last_time:
            lines.append("Last event " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(log.last_time)))
    if log is not None and log.skipped:
        lines.append(f"Left out {sum(log.skipped.values()):,} unreadable or over-long line(s) of events.jsonl")
    if has_checkpoint:
        lines.append("Has a checkpoint (can resume and export)")
    return lines


def copy_message(summary: RunSummary | None, log: RunLog | None, has_checkpoint: bool) -> str:
    """The sentence for a run folder copied from another machine while it trained there."""
    host = summary.copied_from if summary and summary.copied_from else "another machine"
    step = log.last_step if log is not None else (summary.last_step if summary else 0)
    text = (f"This is a copy of a run that was training on {host} when it was copied (up to step {step:,}); "
            "it is not training here. Copy the folder again to see newer progress")
    return text + (", or “Resume” to continue it here from its last checkpoint." if has_checkpoint else ".")


def crash_message(log: RunLog | None, stderr_tail: Sequence[str], console_tail: Sequence[str],
                  has_checkpoint: bool) -> str:
    """The sentence for a crashed run: its error event, else the last line of its stderr (the process's own, else
    the ``! `` lines of console.log)."""
    err = log.last_error() if log is not None else None
    if err is not None:
        head = f"This run stopped with an error at step {int(err.get('step', 0)):,}: {err.get('message', '')}"
    else:
        last = [line for line in stderr_tail if line.strip()]
        if not last:
            last = [line[2:] for line in console_tail[-40:] if line.startswith("! ")]
        head = "This run ended without finishing" + (f": {last[-1].strip()}" if last else
                                                      " (the process was killed or the machine stopped).")
    if has_checkpoint:
        head += "  It has a checkpoint: fix the cause, then “Resume”."
    return head


def banner(path: Path, state: str, summary: RunSummary | None, log: RunLog | None, has_checkpoint: bool,
           stderr_tail: Sequence[str], console_tail: Sequence[str]) -> tuple[str | None, str]:
    """The banner's text (None: no banner) and kind for a run in ``state``."""
    if state == "elsewhere":
        return (holder_sentence(path, summary.locked_by or {}) if summary else
                "Another process is training this run."), "info"
    if state == "copied":
        return copy_message(summary, log, has_checkpoint), "info"
    if state == "crashed":
        return crash_message(log, stderr_tail, console_tail, has_checkpoint), "error"
    if state == "stopped":
        return ("Stopped with a checkpoint: “Resume” continues from it." if has_checkpoint else
                "Stopped before its first checkpoint: “Start” trains it from the beginning."), "info"
    return None, "info"


def config_pane(path: Path, facts: RunFacts | None) -> str:
    """The Config pane's text: config.toml as written, or why it is not shown."""
    if facts is None:
        return f"# {path / CONFIG_FILE}\n(reading…)"
    if facts.config_text is None:
        return f"# {path / CONFIG_FILE}\n" + (f"(config.toml {facts.config_problem})" if facts.config_problem
                                              else "(no config.toml)")
    note = f"# config.toml {facts.config_problem}\n" if facts.config_problem else ""
    return f"# {path / CONFIG_FILE}\n{note}{facts.config_text}"


def actions(has_run: bool, state: str, running_here: bool, has_checkpoint: bool, family: str,
            exporting: bool) -> Actions:
    """Start a run without checkpoints; stop our own trainer; resume a stopped, crashed or copied one; export
    (Use this model) a run with a checkpoint of a family a tool runs."""
    if not has_run:
        return Actions()
    elsewhere = state in ("running", "elsewhere")
    return Actions(start=not running_here and not elsewhere and not has_checkpoint,
                   stop=running_here,
                   stop_tip=ELSEWHERE_TIP if elsewhere and not running_here else "",
                   resume=not running_here and state in ("stopped", "crashed", "copied") and has_checkpoint,
                   use=has_checkpoint and family in trainable_families() and not exporting,
                   folder=True)


def describe(path: Path, name: str, state: str, family: str, summary: RunSummary | None, log: RunLog | None,
             has_checkpoint: bool, stderr_tail: Sequence[str] = (), console_tail: Sequence[str] = ()) -> RunView:
    """The heading, details and banner of one run."""
    text, kind = banner(path, state, summary, log, has_checkpoint, stderr_tail, console_tail)
    return RunView(heading=heading(name, state), info="\n".join(info_lines(family, log, has_checkpoint)),
                   banner=text, banner_kind=kind)
