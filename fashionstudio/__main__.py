"""``python -m fashionstudio`` / ``fashionstudio``: open the window (and the images given as arguments).

The window is shown before torch is imported: torch arrives on a worker thread when the device is picked.
``--screenshot PATH`` grabs the idle window to a PNG (the README screenshot); ``--self-test`` loads each tab's
model, runs one inference through the same path as the user's, prints a JSON line and exits 0 only when every
tab passed (a tab without a model fails). Neither run changes the remembered tab or window size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fashionstudio", description="FashionStudio: GAN tools for fashion images.")
    parser.add_argument("images", nargs="*", help="images to open on the current tab")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="override the device setting")
    parser.add_argument("--screenshot", metavar="PATH", help="grab the window to a PNG once idle, then exit")
    parser.add_argument("--self-test", action="store_true", help="run one inference per tab, print JSON, exit")
    return parser.parse_args(argv)


def _when_idle(window, app, callback, timeout_s: float = 60.0) -> None:
    """Poll until the window is idle (device known, nothing loading or running), then call ``callback``."""
    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + timeout_s
    timer = QTimer(window)
    timer.setInterval(50)

    def poll() -> None:
        if window.is_idle() or time.monotonic() > deadline:
            timer.stop()
            for _ in range(5):  # nested layouts settle one level per pass of posted events
                app.processEvents()
            callback()

    timer.timeout.connect(poll)
    timer.start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Before torch is imported (lazily, later): spinning OpenMP threads steal the GUI's and a training run's CPU.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from fashionstudio.core.applog import setup_logging

    log_path = setup_logging()
    import logging

    log = logging.getLogger("fashionstudio")
    log.info("starting FashionStudio (log: %s)", log_path)

    from PySide6.QtCore import QTimer

    from fashionstudio.gui.app import create_app, install_excepthook

    app = create_app([sys.argv[0]])
    from fashionstudio.gui.main_window import MainWindow

    window = MainWindow(device_override=args.device)
    window.persist_state = not (args.screenshot or args.self_test)
    install_excepthook(window.show_error)
    from fashionstudio.gui.app import FileOpenFilter

    file_open_filter = FileOpenFilter(window.open_files)
    app.installEventFilter(file_open_filter)
    if args.screenshot:
        window.resize(1280, 800)
    window.show()
    QTimer.singleShot(0, window.start)  # after the first paint: device pick, model load
    if args.images:
        QTimer.singleShot(0, lambda: window.open_files(args.images))

    exit_code = {"code": 0}
    if args.screenshot:
        out = Path(args.screenshot)

        def grab() -> None:
            out.parent.mkdir(parents=True, exist_ok=True)
            ok = window.grab().save(str(out), "PNG")
            print(f"screenshot {'written to' if ok else 'FAILED:'} {out}")
            exit_code["code"] = 0 if ok else 1
            window.close()
            app.exit(exit_code["code"])

        QTimer.singleShot(0, lambda: _when_idle(window, app, grab))
    elif args.self_test:
        def run_self_test() -> None:
            results = {}
            for index in range(window.tabs.count()):
                tab = window.tabs.widget(index)
                test = getattr(tab, "self_test", None)
                if test is None:
                    continue
                window.tabs.setCurrentIndex(index)
                try:
                    results[getattr(tab, "tool", str(index))] = test()
                except Exception as exc:  # a crashing self-test is a failed self-test, not a crashed app
                    log.exception("self-test of tab %d crashed", index)
                    results[getattr(tab, "tool", str(index))] = {"status": "error", "message": str(exc)}
            # A tab that found no model tested nothing: that is a failed self-test, not a pass.
            ok = all(r.get("status") == "ok" for r in results.values())
            report = json.dumps({"self_test": results, "device": window.manager.device_description, "ok": ok})
            log.info("self-test: %s", report)  # bundles on Windows/macOS have no console to print to
            if sys.stdout is not None:
                print(report)
            if sys.stdout is not None:
                sys.stdout.flush()
            exit_code["code"] = 0 if ok else 1
            window.close()
            app.exit(exit_code["code"])

        QTimer.singleShot(0, lambda: _when_idle(window, app, run_self_test))

    code = app.exec()
    return exit_code["code"] if (args.screenshot or args.self_test) else code


if __name__ == "__main__":
    sys.exit(main())
