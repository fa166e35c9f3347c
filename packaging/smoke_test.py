"""Smoke test of the Linux CPU bundle: build it (or reuse it), start it as a user would, measure it.

    python packaging/smoke_test.py            # build packaging/dist/linux-cpu/FashionStudio, then test it
    python packaging/smoke_test.py --reuse    # test the bundle that is already there

What it checks and measures (all printed as one JSON object at the end; exit code 0 only if every check held):

1. ``fashionstudio --self-test`` of the bundled executable, offscreen (QT_QPA_PLATFORM=offscreen), exits 0 and
   reports ok: each tab loads its model and renders once through the real code path. When resources/models
   holds no demo models yet, untrained models of each family's ``demo`` preset are written to a temporary
   folder and passed through FASHIONSTUDIO_MODELS, so the bundle still runs torch inference for real; the
   JSON says which ("models": "shipped" or "untrained-demo-presets").
2. Time to first window, cold (x2) and warm (x3): under Xvfb, from launch until the FashionStudio window is
   mapped on the X server (xdotool). "Cold" means the bundle's files were first evicted from the page cache
   (posix_fadvise DONTNEED), as after a reboot; "warm" is the next launch. The load average is printed too:
   on a shared machine, timings are only comparable at similar load.
3. The bundle writes nothing inside its own folder: the listing (path, size, mtime) of every file is compared
   before and after all runs; the runs' log and settings must appear in the temporary user folders instead.
4. "Open with": started with an image path as its argument (what the desktop does), the app shows the image
   on the current tab's canvas (screenshots with and without the argument differ there).
5. The trainer runs from the bundle the way the Train tab starts it (``<executable> -m training ...``): a
   small ``synth shoes_bags`` writes its HDF5 files.
6. The bundle's size on disk (MB), and the .tar.gz size if one was built. If it was, the tarball is also
   unpacked to another folder, installed with its install.sh, and started through the menu entry's Exec line.

Takes a few minutes (the build itself ~3-10 min on 2 cores); not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET = "linux-cpu"
BUNDLE = HERE / "dist" / TARGET / "FashionStudio"
EXECUTABLE = BUNDLE / "fashionstudio"
BUILD_PY = HERE / "build" / f"venv-{TARGET}" / "bin" / "python"
TARBALL = HERE / "dist" / f"FashionStudio-{TARGET}.tar.gz"
sys.path.insert(0, str(HERE))
import bundle_rules  # noqa: E402

def log(message: str) -> None:
    print(f"[smoke] {message}", file=sys.stderr, flush=True)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def folder_size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6, 1)


def evict_from_page_cache(folder: Path) -> int:
    """Drop the bundle's files from the page cache so the next start reads them from disk (a cold start)."""
    evicted = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                evicted += 1
            finally:
                os.close(fd)
    return evicted


def _median(values: list[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[len(known) // 2] if known else None


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment whose user folders all point into ``home`` (nothing touches the real user's files)."""
    env = dict(os.environ)
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "FASHIONSTUDIO_TESTING"):
        env.pop(var, None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TMPDIR=str(home / "tmp"),
    )
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(extra)
    return env


def run_self_test(env: dict[str, str], label: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [str(EXECUTABLE), "--self-test"], env=env, capture_output=True, text=True, timeout=600
    )
    seconds = time.perf_counter() - started
    report = None
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"self_test"' in line:
            report = json.loads(line)
    log(f"self-test ({label}): exit {done.returncode} in {seconds:.2f} s")
    if done.returncode != 0 or report is None:
        log(f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}")
    return {"exit_code": done.returncode, "seconds": round(seconds, 2), "report": report}


COMPARE_LEFT_THIRD = r"""
import sys
import numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in sys.argv[1:3])
h, w = a.shape[:2]
region = (slice(0, int(h * 0.9)), slice(0, w // 3))  # the input canvas, above the status bar
print(float(np.abs(a[region] - b[region]).mean()))
"""


def open_with_check(env: dict[str, str], folder: Path) -> dict:
    """"Open with" = the image path as an argument: it must appear on the canvas (screenshots with/without)."""
    image = bundle_rules.source_resources_dir(REPO) / "icons" / "fashionstudio-512.png"
    shots = {}
    for name, extra in (("empty", []), ("opened", [str(image)])):
        shots[name] = folder / f"{name}.png"
        done = subprocess.run(
            [str(EXECUTABLE), "--screenshot", str(shots[name]), *extra],
            env=dict(env, QT_QPA_PLATFORM="offscreen"), capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0 or not shots[name].exists():
            log(f"screenshot ({name}) failed: {done.stdout}\n{done.stderr[-3000:]}")
            return {"ok": False}
    diff = subprocess.run(
        [str(BUILD_PY), "-c", COMPARE_LEFT_THIRD, str(shots["empty"]), str(shots["opened"])],
        check=True, capture_output=True, text=True,
    )
    change = float(diff.stdout.strip())
    return {"ok": change > 5.0, "canvas_mean_abs_change": round(change, 1)}


def tarball_install_check(env: dict[str, str], folder: Path) -> dict:
    """Unpack the tarball elsewhere, run its install.sh, start the app the way the menu entry does."""
    import shlex
    import tarfile

    with tarfile.open(TARBALL) as tar:
        tar.extractall(folder, filter="tar")
    unpacked = folder / "FashionStudio"
    subprocess.run(["sh", str(unpacked / "install.sh")], env=env, check=True, capture_output=True)
    entry = Path(env["XDG_DATA_HOME"]) / "applications" / "fashionstudio.desktop"
    exec_line = next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))
    command = [arg for arg in shlex.split(exec_line[len("Exec="):]) if arg != "%F"]
    done = subprocess.run(
        [*command, "--self-test"], env=dict(env, QT_QPA_PLATFORM="offscreen"),
        capture_output=True, text=True, timeout=600,
    )
    icon = Path(env["XDG_DATA_HOME"]) / "icons" / "hicolor" / "256x256" / "apps" / "fashionstudio.png"
    ok = done.returncode == 0 and Path(command[0]).is_relative_to(unpacked) and icon.exists()
    if not ok:
        log(f"tarball install check failed: {command} -> {done.returncode}\n{done.stderr[-3000:]}")
    return {"ok": ok, "exec": exec_line}


def trainer_check(env: dict[str, str], folder: Path) -> dict:
    """The Train tab runs ``sys.executable -m training ...``: in the bundle that is the app executable."""
    out = folder / "synth"
    started = time.perf_counter()
    done = subprocess.run(
        [str(EXECUTABLE), "-m", "training", "synth", "shoes_bags", str(out), "--n", "8", "--resolution", "64"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    files = sorted(p.name for p in out.glob("*")) if out.exists() else []
    ok = done.returncode == 0 and any(name.endswith(".hdf5") for name in files)
    if not ok:
        log(f"trainer check failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return {"ok": ok, "seconds": round(time.perf_counter() - started, 2), "files": files}


def time_to_first_window(env: dict[str, str], display: str, timeout_s: float = 120.0) -> float | None:
    """Seconds from launch until a visible window titled FashionStudio exists on ``display``."""
    env = dict(env, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    started = time.perf_counter()
    app = subprocess.Popen([str(EXECUTABLE)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < timeout_s:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^FashionStudio"],
                env=env, capture_output=True, text=True,
            )
            if found.stdout.strip():
                return round(time.perf_counter() - started, 2)
            if app.poll() is not None:
                log(f"the app exited ({app.returncode}) before showing a window: {app.stderr.read()[-3000:]}")
                return None
            time.sleep(0.02)
        return None
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()


def start_xvfb() -> tuple[subprocess.Popen, str] | None:
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        log("Xvfb or xdotool missing (apt-get install xvfb xdotool): time to first window is not measured")
        return None
    for number in range(91, 110):
        if not Path(f"/tmp/.X{number}-lock").exists():
            display = f":{number}"
            server = subprocess.Popen(
                ["Xvfb", display, "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            if server.poll() is None:
                return server, display
    log("could not start Xvfb")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and smoke-test the Linux CPU bundle.")
    parser.add_argument("--reuse", action="store_true", help="test the existing bundle instead of building")
    parser.add_argument("--archive", action="store_true", help="also build the .tar.gz and report its size")
    args = parser.parse_args(argv)

    if not (args.reuse and EXECUTABLE.exists()):
        cmd = [sys.executable, str(HERE / "build.py"), TARGET] + (["--archive"] if args.archive else [])
        log("building: " + " ".join(cmd))
        started = time.perf_counter()
        subprocess.run(cmd, check=True)
        log(f"build took {time.perf_counter() - started:.0f} s")
    if not EXECUTABLE.exists():
        raise SystemExit(f"No bundle at {BUNDLE}: run without --reuse to build it.")

    checks: dict[str, bool] = {}
    result: dict = {"bundle": str(BUNDLE), "size_mb": folder_size_mb(BUNDLE)}
    if TARBALL.exists() and TARBALL.stat().st_mtime >= EXECUTABLE.stat().st_mtime:
        result["tarball_mb"] = round(TARBALL.stat().st_size / 1e6, 1)

    with tempfile.TemporaryDirectory(prefix="fashionstudio-smoke-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        extra: dict[str, str] = {}
        shipped = sorted((bundle_rules.source_resources_dir(REPO) / "models").glob("*.safetensors"))
        if shipped:
            result["models"] = "shipped"
        else:
            models = tmp_path / "models"
            subprocess.run([str(BUILD_PY), str(HERE / "placeholder_models.py"), str(models)], check=True, capture_output=True)
            extra["FASHIONSTUDIO_MODELS"] = str(models)
            result["models"] = "untrained-demo-presets"
        env = user_env(home, **extra)

        before = listing(BUNDLE)

        # 1. Self-test, offscreen: cold (page cache evicted), then warm.
        offscreen = dict(env, QT_QPA_PLATFORM="offscreen")
        evict_from_page_cache(BUNDLE)
        cold = run_self_test(offscreen, "cold")
        warm = run_self_test(offscreen, "warm")
        result["self_test"] = {"cold_s": cold["seconds"], "warm_s": warm["seconds"], "report": warm["report"]}
        checks["self_test_exit_0"] = cold["exit_code"] == 0 and warm["exit_code"] == 0
        checks["self_test_ok"] = bool(warm["report"] and warm["report"].get("ok"))
        if warm["report"]:
            statuses = {tool: r.get("status") for tool, r in warm["report"].get("self_test", {}).items()}
            result["self_test"]["statuses"] = statuses

        # 2. "Open with": an image given as an argument lands on the current tab's canvas.
        opened = open_with_check(env, tmp_path)
        result["open_with"] = opened
        checks["open_with_puts_image_on_canvas"] = opened["ok"]

        # 2a. The trainer runs from the bundle (the Train tab's command line; writes HDF5 through h5py).
        trainer = trainer_check(env, tmp_path)
        result["trainer_from_bundle"] = trainer
        checks["trainer_runs_from_bundle"] = trainer["ok"]

        # 2b. The tarball works from another folder, installed with its install.sh as a user would.
        if "tarball_mb" in result:
            installed = tarball_install_check(env, tmp_path / "unpacked")
            result["tarball_install"] = installed
            checks["tarball_installs_and_runs"] = installed["ok"]

        # 3. Time to first window under Xvfb: two cold starts (page cache evicted before each), three warm ones.
        xvfb = start_xvfb()
        if xvfb:
            server, display = xvfb
            try:
                cold_runs = []
                for _ in range(2):
                    evict_from_page_cache(BUNDLE)
                    cold_runs.append(time_to_first_window(env, display))
                warm_runs = [time_to_first_window(env, display) for _ in range(3)]
            finally:
                server.terminate()
                server.wait(timeout=10)
            result["first_window_s"] = {
                "cold": cold_runs,
                "warm": warm_runs,
                "cold_median": _median(cold_runs),
                "warm_median": _median(warm_runs),
            }
            checks["window_shown"] = None not in cold_runs + warm_runs

        # 4. Nothing written inside the bundle; the user folders got the log instead.
        after = listing(BUNDLE)
        changed = sorted(set(before.items()) ^ set(after.items()))
        result["bundle_changes"] = [name for name, _ in changed][:20]
        checks["bundle_unchanged"] = not changed
        written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
        result["user_files_written"] = written[:20]
        checks["log_in_user_folder"] = any(name.endswith(".log") for name in written)

    # The machine is shared: the load average says how much the timings above were competing for the CPU.
    result["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    result["cpu_count"] = os.cpu_count()
    result["checks"] = checks
    result["ok"] = all(checks.values())
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
