"""What the Train tab knows about its runs, and what it decides from that, without Qt and without reading files.

The tab's workers fill a :class:`TrainState`: run summaries from a refresh of the runs folder, the events read from
each followed run's ``events.jsonl`` (:class:`~fashionstudio.core.runs.RunLog`), the
:class:`~fashionstudio.core.run_facts.RunFacts` of a run folder. The GUI thread then asks it which state a run is in,
what to show for it (:mod:`fashionstudio.core.run_display`), which runs to follow, in which colours, and when to read
a folder again. Of two reads of the same thing, the one that began later wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from fashionstudio.core import run_display
from fashionstudio.core.run_display import Actions, RunView
from fashionstudio.core.run_facts import RunFacts
from fashionstudio.core.runs import RunLog, RunSummary, infer_state

FACTS_MAX_AGE_S = 5.0   # the selected run's folder is read again at least this often (new checkpoints, config)


class TrainerProcess(Protocol):
    """What the state needs of a trainer process this app started (``gui.train.run_process.RunProcess``)."""

    pid: int | None
    exit_code: int | None
    stderr_tail: Sequence[str]

    def is_running(self) -> bool: ...


class TrainState:
    """Summaries, event logs, folder facts and the app's own trainer processes, keyed by run folder."""

    def __init__(self) -> None:
        self.logs: dict[Path, RunLog] = {}
        self.summaries: dict[Path, RunSummary] = {}
        self.facts: dict[Path, RunFacts] = {}
        self.processes: dict[Path, TrainerProcess] = {}
        self.exports: dict[Path, TrainerProcess] = {}
        self.colours: dict[Path, str] = {}
        self.mtimes: dict[Path, float] = {}          # events.jsonl's mtime, as the event reader last saw it
        self._summary_read_at: dict[Path, float] = {}

    # -- what was read ----------------------------------------------------------------------------------------------
    def set_summaries(self, summaries: Iterable[RunSummary], read_at: float) -> list[RunSummary]:
        """Take a refresh's summaries (read from ``read_at`` on), merged with what the logs and processes know;
        forget what was read of runs that are gone (unless this app is training them)."""
        merged = list(summaries)
        self.summaries = {s.path: s for s in merged}
        self._summary_read_at = {s.path: read_at for s in merged}
        for table in (self.logs, self.facts, self.mtimes):
            for path in [p for p in table if p not in self.summaries and p not in self.processes]:
                del table[path]
        for summary in merged:
            self.merge_live(summary)
        return merged

    def add_summary(self, summary: RunSummary, read_at: float) -> None:
        """A run this app has just created (nothing to read yet)."""
        self.summaries[summary.path] = summary
        self._summary_read_at[summary.path] = read_at

    def set_facts(self, facts: RunFacts) -> bool:
        """Keep ``facts`` unless a read that began later is already here; True when kept."""
        known = self.facts.get(facts.path)
        if known is not None and known.read_at > facts.read_at:
            return False
        self.facts[facts.path] = facts
        return True

    def note_mtime(self, path: Path, mtime: float | None) -> None:
        if mtime is not None:
            self.mtimes[path] = mtime

    # -- what is known ----------------------------------------------------------------------------------------------
    def has_checkpoint(self, path: Path) -> bool:
        """From the newer of the run's folder facts and its summary."""
        facts, summary = self.facts.get(path), self.summaries.get(path)
        if facts is not None and (summary is None or facts.read_at >= self._summary_read_at.get(path, -math.inf)):
            return facts.has_checkpoint
        return bool(summary and summary.has_checkpoint)

    def family(self, path: Path) -> str:
        summary, facts = self.summaries.get(path), self.facts.get(path)
        return (summary.family if summary and summary.family else "") or (facts.family if facts else "")

    def events_mtime(self, path: Path) -> float | None:
        """The newest modification time of events.jsonl any read saw (None: no read saw the file)."""
        facts, summary = self.facts.get(path), self.summaries.get(path)
        seen = [t for t in (self.mtimes.get(path), facts.events_mtime if facts else None,
                            summary.mtime if summary else None) if t]
        return max(seen) if seen else None

    def running_here(self, path: Path) -> bool:
        proc = self.processes.get(path)
        return proc is not None and proc.is_running()

    def exporting(self, path: Path) -> bool:
        proc = self.exports.get(path)
        return proc is not None and proc.is_running()

    def state_of(self, path: Path) -> str:
        """new, running, finished, stopped, crashed, elsewhere or copied (:func:`core.runs.infer_state`)."""
        proc = self.processes.get(path)
        log = self.logs.get(path)
        summary = self.summaries.get(path)
        # another process holds the run's lock (a trainer of ours that has just ended is not "elsewhere")
        own = {p.pid for p in self.processes.values()}
        locked = bool(summary and summary.locked_by is not None and summary.locked_by.get("pid") not in own)
        if log is None:
            if proc is not None and proc.is_running():
                return "running"
            return summary.state if summary else "new"
        mtime = self.events_mtime(path)
        mtime = mtime if mtime is not None else (log.last_time or 0.0)   # never a stat on the caller's thread
        if proc is None:
            return infer_state(log, locked=locked, copied=bool(summary and summary.copied_from), mtime=mtime)
        return infer_state(log, process_running=proc.is_running(), exit_code=proc.exit_code, locked=locked,
                           mtime=mtime)

    def merge_live(self, summary: RunSummary) -> None:
        """Prefer what the full log, the folder facts and our own process know over the quick summary."""
        log = self.logs.get(summary.path)
        if log is not None and log.n_events:
            summary.last_step = log.last_step
            summary.steps = log.total_steps or summary.steps
            err = log.last_error()
            summary.error = str(err.get("message", "")) if err else None
        summary.state = self.state_of(summary.path)
        summary.has_checkpoint = self.has_checkpoint(summary.path)

    def refresh_summary(self, path: Path) -> tuple[RunSummary, str]:
        """The run's summary brought up to date with its log (made if missing), and its state before."""
        summary = self.summaries.get(path)
        if summary is None:
            summary = self.summaries[path] = RunSummary(path=path)
        previous = summary.state
        self.merge_live(summary)
        return summary, previous

    # -- what to show ---------------------------------------------------------------------------------------------
    def view(self, path: Path | None, name: str = "") -> RunView:
        if path is None:
            return run_display.NO_RUN
        proc, facts = self.processes.get(path), self.facts.get(path)
        return run_display.describe(path, name or path.name, self.state_of(path), self.family(path),
                                    self.summaries.get(path), self.logs.get(path), self.has_checkpoint(path),
                                    stderr_tail=list(proc.stderr_tail) if proc else (),
                                    console_tail=facts.console_tail if facts else ())

    def actions(self, path: Path | None) -> Actions:
        if path is None:
            return Actions()
        return run_display.actions(True, self.state_of(path), self.running_here(path), self.has_checkpoint(path),
                                   self.family(path), self.exporting(path))

    def config_pane(self, path: Path | None) -> str:
        return "" if path is None else run_display.config_pane(path, self.facts.get(path))

    # -- what to follow and read ----------------------------------------------------------------------------------
    def watched(self, checked: Iterable[Path], current: Path | None) -> list[Path]:
        """The runs whose events are read on each tick: ticked, selected, or trained by this app."""
        paths = set(checked) | set(self.processes)
        if current is not None:
            paths.add(current)
        return sorted(paths)

    @staticmethod
    def plotted(checked: Sequence[Path], current: Path | None) -> list[Path]:
        """The ticked runs, else the selected one."""
        if checked:
            return list(checked)
        return [current] if current is not None else []

    def assign_colours(self, plotted: Sequence[Path], palette: Sequence[str]) -> dict[Path, str]:
        """A colour per plotted run: kept while it stays plotted, never two runs in one colour."""
        used: set[str] = set()
        for path in plotted:
            colour = self.colours.get(path)
            if colour is None or colour in used:
                colour = next((c for c in palette if c not in used), palette[len(used) % len(palette)])
                self.colours[path] = colour
            used.add(colour)
        return {p: self.colours[p] for p in plotted}

    def facts_due(self, path: Path, now: float) -> bool:
        """Whether the tick should read the run folder again (``now`` from ``time.monotonic()``)."""
        facts = self.facts.get(path)
        return facts is None or now - facts.read_at >= FACTS_MAX_AGE_S
