"""``python -m training run RUN_DIR`` and ``python -m training resume RUN_DIR``: train from a run folder.

    python -m training run RUN_DIR [--until STEP] [--device DEVICE]
    python -m training resume RUN_DIR [--steps N] [--until STEP] [--device DEVICE]
    torchrun --nproc_per_node=N -m training run RUN_DIR        (several processes, see training.distributed)

``run`` starts from ``RUN_DIR/config.toml``; ``resume`` continues from the newest checkpoint in
``RUN_DIR/checkpoints/`` (``--steps`` raises the total). ``--until STEP`` stops (checkpoint + ``stopped`` event)
once STEP steps are done, without changing the run's schedules. Progress goes to ``RUN_DIR/events.jsonl`` and
stdout (schema: :mod:`training.events`).

Exit codes: 0 finished or stopped on request (SIGTERM/SIGINT or a ``RUN_DIR/STOP`` file: :mod:`training.events`),
1 a non-finite loss or an unexpected error, 2 a config problem, 3 the run folder cannot be written (full disk,
permissions), 4 a data problem.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_IO, EXIT_DATA = 0, 1, 2, 3, 4


def _parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m training {command}",
                                description="Train a FashionStudio GAN from a run folder.")
    p.add_argument("run_dir", help="run folder holding config.toml")
    p.add_argument("--until", type=int, default=None, help="stop (with a checkpoint) after this many steps")
    p.add_argument("--device", default=None, help="override config.toml's device (cpu, cuda, cuda:1, mps)")
    if command == "resume":
        p.add_argument("--steps", type=int, default=None, help="new total number of steps")
    return p


def resolve_device(name: str, local_rank: int = 0):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
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
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        print(f"error: the run folder '{run_dir}' does not exist (create it with a config.toml inside).",
              file=sys.stderr)
        return EXIT_CONFIG

    from training.events import STOP_FILE, EventWriter

    is_main = int(os.environ.get("RANK", "0")) == 0
    events = EventWriter(run_dir, enabled=is_main)

    def fail(kind: str, code: int, message: str, **extra: object) -> int:
        print(f"error: {message}", file=sys.stderr)
        try:
            events.emit("error", extra.pop("step", 0), error=kind, message=message, **extra)
        except OSError as exc:
            print(f"error: cannot write '{events.path}' either ({exc.strerror or exc}).", file=sys.stderr)
        return code

    from training.trainers.base import StopRequested

    stop = StopRequested(stop_file=run_dir / STOP_FILE)
    stop.install()  # from here on, SIGTERM/Ctrl+C/STOP end the run cleanly (also while data is generated)
    code: int | None = None
    try:
        code = _train(command, args, run_dir, events, fail, stop)
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
        from training import distributed

        distributed.shutdown(clean=code == 0)


def _train(command, args, run_dir: Path, events, fail, stop) -> int:
    from training import checkpoint as ckpt
    from training import distributed
    from training.config import ConfigError, load_config

    try:
        cfg = load_config(run_dir)
        for plugin in cfg.plugins:
            importlib.import_module(plugin)
        if command == "resume" and args.steps is not None:
            cfg.steps = args.steps
        if args.device:
            cfg.device = args.device
        device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", 0)))
    except (ConfigError, ValueError, ImportError) as exc:
        return fail("config", EXIT_CONFIG, str(exc))

    latest = ckpt.latest_checkpoint(run_dir)
    if command == "run" and latest is not None:
        return fail("config", EXIT_CONFIG, f"'{run_dir}' already holds checkpoints of a run; continue it with "
                                           f"'python -m training resume {run_dir}' or start in a new folder.")
    if command == "resume" and latest is None:
        return fail("config", EXIT_CONFIG, f"'{run_dir}' has no checkpoint to resume from; start it with "
                                           f"'python -m training run {run_dir}'.")

    from training.trainers import get_trainer
    from training.trainers.base import DataError, Loop

    info = distributed.init_from_env(device.type)
    try:
        trainer = get_trainer(cfg.family)(cfg, device, info)
    except (ConfigError, KeyError, ValueError) as exc:
        return fail("config", EXIT_CONFIG, str(exc.args[0] if isinstance(exc, KeyError) else exc))
    if command == "run" and cfg.init:
        from training.warm_start import warm_start

        try:
            trainer.notes += warm_start(trainer.nets, cfg.init, run_dir, trainer.ema)
        except ConfigError as exc:
            return fail("config", EXIT_CONFIG, str(exc))
    try:
        loop = Loop(trainer, run_dir, events, until=args.until, stop=stop)
    except (DataError, FileNotFoundError) as exc:
        return fail("data", EXIT_DATA, str(exc))
    if command == "resume":
        try:
            loop.restore(latest)
        except (ValueError, KeyError) as exc:
            return fail("config", EXIT_CONFIG, f"Cannot resume from '{latest.name}': {exc}")
    return loop.run(resumed=command == "resume")
