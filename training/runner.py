"""``python -m training run RUN_DIR`` and ``python -m training resume RUN_DIR``: train from a run folder.

    python -m training run RUN_DIR [--until STEP] [--device DEVICE] [--allow-plugins]
    python -m training resume RUN_DIR [--steps N] [--until STEP] [--device DEVICE] [--allow-plugins]
    torchrun --nproc_per_node=N -m training run RUN_DIR        (several processes, see training.distributed)

``run`` starts from ``RUN_DIR/config.toml``; ``resume`` continues from the newest checkpoint in
``RUN_DIR/checkpoints/`` that verifies (checksum, finite weights; newer damaged ones are named, renamed to
``*.damaged`` and skipped; ``--steps`` raises the total). ``--until STEP`` stops (checkpoint + ``stopped`` event)
once STEP steps are done, without changing the run's schedules. Progress goes to ``RUN_DIR/events.jsonl`` and
stdout (schema: :mod:`fashionstudio.core.run_folder`).

A run folder is untrusted input (it may come from another machine): ``plugins = [...]`` in its config names
Python modules, which are imported only with ``--allow-plugins`` (the Train tab asks first). One trainer at a
time holds a run folder (:mod:`fashionstudio.core.runlock`); a second one exits with a sentence naming the first.

Exit codes: 0 finished or stopped on request (SIGTERM/SIGINT or a ``RUN_DIR/STOP`` file:
:mod:`fashionstudio.core.run_folder`), 1 a non-finite loss or an unexpected error, 2 a config problem, 3 the run
folder cannot be written (full disk, permissions), 4 a data problem, 5 another trainer is working in the run folder.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_IO, EXIT_DATA, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m training {command}",
                                description="Train a FashionStudio GAN from a run folder.")
    p.add_argument("run_dir", help="run folder holding config.toml")
    p.add_argument("--until", type=int, default=None, help="stop (with a checkpoint) after this many steps")
    p.add_argument("--device", default=None, help="override config.toml's device (cpu, cuda, cuda:1, mps)")
    p.add_argument("--allow-plugins", action="store_true",
                   help="import the Python modules config.toml lists in 'plugins' (only for run folders you trust)")
    if command == "resume":
        p.add_argument("--steps", type=int, default=None, help="new total number of steps")
    return p


def import_plugins(plugins: list[Any], allowed: bool) -> None:
    """Import the config's plug-in modules, which is running their code: only with the user's consent, except
    modules this process has imported already (importing those runs nothing)."""
    from training.config import ConfigError

    for plugin in plugins:
        if not isinstance(plugin, str) or not _MODULE_NAME.match(plugin):
            raise ConfigError(f"config.toml: plugins must be Python module names such as \"my_family\", "
                              f"not {plugin!r}.")
    pending = [p for p in plugins if p not in sys.modules]
    if pending and not allowed:
        raise ConfigError(f"config.toml asks to import the plug-in module(s) {', '.join(map(repr, pending))}, "
                          "which runs their Python code. Only if you trust where this run folder came from, "
                          "start it again with --allow-plugins (the Train tab asks you); otherwise remove "
                          "'plugins' from config.toml.")
    for plugin in plugins:
        try:
            importlib.import_module(plugin)
        except ImportError as exc:
            raise ConfigError(f"config.toml: the plug-in module '{plugin}' cannot be imported ({exc}).") from None


def resolve_device(name: str, local_rank: int = 0):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"'{name}' is not a device PyTorch knows; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("config.toml asks for device 'cuda' but PyTorch sees no CUDA GPU here; "
                             "use device = \"auto\" or \"cpu\".")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("config.toml asks for device 'mps' but this machine has no Apple GPU available.")
    return device


def _is_whole_process(argv: list[str]) -> bool:
    """Whether this call is the process's own command (``python -m training``, the console script and the app
    bundle's launcher all leave it in ``sys.argv``): then nothing but exiting follows, and the stop handlers stay
    installed to the end, so a SIGTERM that arrives after the run ended (Stop clicked as it finished) is absorbed
    instead of ending a clean run with death by signal (exit -15)."""
    return sys.argv[1:] == list(argv)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    args = _parser(command).parse_args(argv[1:])
    # Absolute from here on: paths inside the run (the atelier cache "data/") are joined to it, and a relative
    # folder joined twice put the data under runs/pose/runs/pose/data.
    run_dir = Path(args.run_dir).absolute()
    if not run_dir.is_dir():
        print(f"error: the run folder '{args.run_dir}' does not exist (create it with a config.toml inside).",
              file=sys.stderr)
        return EXIT_CONFIG

    from fashionstudio.core.runlock import RunLock, RunLocked
    from fashionstudio.core.run_folder import STOP_FILE, EventWriter

    is_main = int(os.environ.get("RANK", "0")) == 0
    lock = RunLock(run_dir, command)
    if is_main:  # only rank 0 writes to the folder, so only it holds the lock
        try:
            lock.acquire()
        except RunLocked as exc:  # not a word in events.jsonl: that log belongs to the trainer holding the lock
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_LOCKED
        except OSError as exc:
            print(f"error: Cannot write to the run folder '{run_dir}': {exc.strerror or exc}. Fix the folder's "
                  "permissions or copy the run somewhere writable.", file=sys.stderr)
            return EXIT_IO
    events = EventWriter(run_dir, enabled=is_main)
    progress: dict[str, Any] = {"loop": None}

    def fail(kind: str, code: int, message: str, **extra: object) -> int:
        print(f"error: {message}", file=sys.stderr)
        loop = progress["loop"]
        step = extra.pop("step", loop.t.step if loop is not None else 0)
        try:
            events.emit("error", step, error=kind, message=message, **extra)
        except OSError as exc:
            print(f"error: cannot write '{events.path}' either ({exc.strerror or exc}).", file=sys.stderr)
        return code

    from training.trainers.stop import StopRequested

    stop = StopRequested(stop_file=run_dir / STOP_FILE)
    stop.install()  # from here on, SIGTERM/Ctrl+C/STOP end the run cleanly (also while data is generated)
    code: int | None = None
    try:
        code = _train(command, args, run_dir, events, fail, stop, progress)
        return code
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        return fail("io", EXIT_IO, f"Cannot write to the run folder{where}: {exc.strerror or exc}. "
                                   "Free disk space or fix the folder's permissions, then resume.")
    except Exception as exc:  # the Train tab must get a sentence, not a silent exit
        traceback.print_exc()
        return fail("internal", EXIT_FAILED, f"Training failed unexpectedly: {type(exc).__name__}: {exc}")
    finally:
        if not _is_whole_process(argv):  # called from other code (a test, a notebook): give its handlers back
            stop.uninstall()
        if is_main:  # a stop asked for as the run ended must not stop the next resume
            stop.clear_stop_file()
        try:
            events.close()
        except OSError:
            pass
        lock.release()
        from training import distributed

        distributed.shutdown(clean=code == 0)


def _check_arch(cfg) -> None:
    """The run's [arch] overrides keep the types of its family's preset (a family the registry does not know is
    reported by the trainer lookup that follows)."""
    from training.config import validate_arch
    from training.trainers.trainer import family_module

    try:
        presets = getattr(family_module(cfg.family), "PRESETS", {})
    except (KeyError, ValueError, TypeError):
        return
    if isinstance(presets, dict) and isinstance(presets.get(cfg.preset), dict):
        validate_arch(cfg.arch, presets[cfg.preset], cfg.family)


def _train(command, args, run_dir: Path, events, fail, stop, progress: dict[str, Any]) -> int:
    from training import checkpoint as ckpt
    from training import distributed
    from training.config import ConfigError, load_config

    try:
        cfg = load_config(run_dir)
        import_plugins(cfg.plugins, args.allow_plugins)
        if command == "resume" and args.steps is not None:
            cfg.steps = args.steps
        if args.device:
            cfg.device = args.device
        _check_arch(cfg)
        device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", 0)))
    except (ConfigError, ValueError) as exc:
        return fail("config", EXIT_CONFIG, str(exc))

    latest = ckpt.latest_checkpoint(run_dir)
    if command == "run" and latest is not None:
        return fail("config", EXIT_CONFIG, f"'{run_dir}' already holds checkpoints of a run; continue it with "
                                           f"'python -m training resume {run_dir}' or start in a new folder.")
    if command == "resume" and latest is None:
        return fail("config", EXIT_CONFIG, f"'{run_dir}' has no checkpoint to resume from; start it with "
                                           f"'python -m training run {run_dir}'.")

    from training.trainers import get_trainer
    from training.data import DatasetError
    from training.trainers.loop import Loop

    info = distributed.init_from_env(device.type)
    try:
        trainer = get_trainer(cfg.family)(cfg, device, info)
    except (ConfigError, KeyError, ValueError) as exc:
        return fail("config", EXIT_CONFIG, str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
    if command == "run" and cfg.init:
        from training.warm_start import warm_start

        try:
            trainer.notes += warm_start(trainer.nets, cfg.init, run_dir, trainer.ema)
        except ConfigError as exc:
            return fail("config", EXIT_CONFIG, str(exc))
    from training.data.atelier import GenerationCancelled, stop_when

    try:
        with stop_when(stop.poll):
            loop = Loop(trainer, run_dir, events, until=args.until, stop=stop)
    except (DatasetError, FileNotFoundError) as exc:
        return fail("data", EXIT_DATA, str(exc))
    except GenerationCancelled:
        stop.clear_stop_file()
        events.emit("status", 0, status="stopped", checkpoint=None,
                    reason=(stop.reason or "stop requested") + " while generating the synthetic data")
        return EXIT_OK
    progress["loop"] = loop
    if command == "resume":
        path, state, skipped = ckpt.newest_verified(run_dir)
        for damaged in skipped:
            aside = ckpt.set_aside(damaged.path)
            kept = f" (kept as '{aside.name}')" if aside else ""
            note = f"Skipped a damaged checkpoint: '{damaged.path.name}' {damaged.reason}{kept}."
            print(f"warning: {note}", file=sys.stderr)
            trainer.notes.append(note)
        if path is None:
            return fail("config", EXIT_CONFIG, f"'{run_dir}' has no usable checkpoint to resume from: "
                        + " ".join(str(d) for d in skipped) + " Start the run again, or copy an intact "
                        "checkpoint into its checkpoints folder.")
        if skipped:
            trainer.notes.append(f"Resumed from '{path.name}', the newest checkpoint that verifies.")
        try:
            loop.restore(path, state)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # a checkpoint of another kind of run
            return fail("config", EXIT_CONFIG, f"Cannot resume from '{path.name}': "
                        f"{exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}")
    return loop.run(resumed=command == "resume")
