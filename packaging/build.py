"""Build the FashionStudio desktop bundle: one command per platform and flavour.

    python packaging/build.py linux-cpu            # this machine: dist/linux-cpu/FashionStudio/
    python packaging/build.py linux-cpu --archive  # ... plus FashionStudio-linux-cpu.tar.gz with install.sh
    python packaging/build.py linux-cuda
    python packaging/build.py windows-cpu | windows-cuda   (on Windows; --archive runs Inno Setup's iscc)
    python packaging/build.py macos                        (on a Mac; --archive makes the .dmg)

Each target has its own build venv in packaging/build/venv-<target> (git-ignored; the project's .venv is never
touched). The venv gets the target's torch build, the app's run-time dependencies and PyInstaller, then the
app itself with ``pip install --no-deps``. Before PyInstaller runs, a preflight imports what the app imports in
that venv and fails if an exclusion in bundle_rules.py would remove a module the app needs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUILD_DIR = HERE / "build"
DIST_DIR = HERE / "dist"
sys.path.insert(0, str(HERE))
import bundle_rules  # noqa: E402



def app_requirements() -> list[str]:
    """The app's run-time requirements exactly as pyproject.toml declares them (version bounds included: the
    PySide6 bound matters), minus torch (chosen per target) and torchvision (trainer-only, never bundled)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    return [d for d in deps if re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].strip().lower() not in ("torch", "torchvision")]


APP_DEPS = app_requirements()
BUILD_DEPS = ["pyinstaller"]
LOCAL_CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")

TARGETS: dict[str, dict[str, str]] = {
    # torch: what pip installs. "local-cpu-wheel" = the CPU wheel on this machine, else FASHIONSTUDIO_TORCH.
    "linux-cpu": {"os": "linux", "flavour": "cpu", "torch": "local-cpu-wheel"},
    "linux-cuda": {"os": "linux", "flavour": "cuda", "torch": "torch"},  # PyPI's Linux torch is the CUDA build
    "windows-cpu": {"os": "win32", "flavour": "cpu", "torch": "torch"},  # PyPI's Windows torch is CPU-only
    "windows-cuda": {"os": "win32", "flavour": "cuda", "torch": "env"},
    "macos": {"os": "darwin", "flavour": "cpu", "torch": "torch"},  # CPU + Apple MPS in one build
}


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def torch_requirement(target: str) -> list[str]:
    """The pip arguments that install the right torch for ``target``.

    FASHIONSTUDIO_TORCH overrides it, e.g. a wheel file, or ``torch --index-url <PyTorch's cu128 index>`` for
    windows-cuda (PyTorch publishes its CUDA wheels for Windows and its CPU wheels for Linux on its own index).
    """
    override = os.environ.get("FASHIONSTUDIO_TORCH")
    if override:
        return override.split()
    kind = TARGETS[target]["torch"]
    if kind == "local-cpu-wheel":
        if LOCAL_CPU_WHEEL.exists():
            return [str(LOCAL_CPU_WHEEL)]
        raise SystemExit(
            "linux-cpu needs the CPU-only torch wheel: set FASHIONSTUDIO_TORCH to a wheel file or to "
            "'torch --index-url <PyTorch CPU wheel index>'. PyPI's Linux torch pulls ~3 GB of CUDA libraries."
        )
    if kind == "env":
        raise SystemExit(f"{target} needs FASHIONSTUDIO_TORCH (the CUDA torch wheel or its --index-url).")
    return [kind]


def run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    log(" ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def ensure_venv(target: str) -> Path:
    """Create (or reuse) the target's build venv and install torch, the app's dependencies and PyInstaller."""
    venv = BUILD_DIR / f"venv-{target}"
    py = venv_python(venv)
    if not py.exists():
        run([sys.executable, "-m", "venv", venv])
    requirements = torch_requirement(target) + APP_DEPS + BUILD_DEPS
    stamp = venv / ".fashionstudio-deps"
    digest = hashlib.sha256(json.dumps(requirements).encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        run([py, "-m", "pip", "install", *requirements])
        stamp.write_text(digest)
    else:
        log(f"dependencies of {venv.name} are up to date")
    # The app itself, always fresh from this checkout, without letting pip add torchvision.
    run([py, "-m", "pip", "install", "--no-deps", "--force-reinstall", "--quiet", REPO])
    return venv


def preflight(py: Path, flavour: str) -> None:
    """Fail before the long build if the venv holds the wrong torch or an exclusion breaks a real run."""
    info = subprocess.run(
        [str(py), "-c", "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda}))"],
        check=True, capture_output=True, text=True,
    )
    torch_info = json.loads(info.stdout.strip().splitlines()[-1])
    log(f"torch {torch_info['torch']} (CUDA {torch_info['cuda']})")
    if flavour == "cpu" and torch_info["cuda"]:
        raise SystemExit("The CPU flavour was asked for but the build venv has a CUDA torch: it would be gigabytes.")
    if flavour == "cuda" and not torch_info["cuda"]:
        raise SystemExit("The CUDA flavour was asked for but the build venv has a CPU-only torch.")

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        env["FASHIONSTUDIO_HOME"] = str(Path(tmp) / "home")
        if not any((bundle_rules.source_resources_dir(REPO) / "models").glob("*.safetensors")):
            # No demo models shipped yet: untrained ones make the self-test run inference (and its imports).
            models = Path(tmp) / "models"
            subprocess.run([str(py), str(HERE / "placeholder_models.py"), str(models)], check=True, capture_output=True)
            env["FASHIONSTUDIO_MODELS"] = str(models)
        runs = [("probe", [str(HERE / "probe_app.py")])]
        if app_has_self_test(py):
            runs.append(("self-test", ["-m", "fashionstudio", "--self-test"]))
        for name, args in runs:
            dump = Path(tmp) / f"{name}.modules"
            cmd = [str(py), str(HERE / "module_dump.py"), str(dump), *args]
            log(f"preflight {name}: {' '.join(cmd)}")
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise SystemExit(f"preflight {name} failed in the build venv:\n{done.stdout}\n{done.stderr}")
            bad = bundle_rules.excluded_modules_in_use(dump.read_text().split())
            if bad:
                raise SystemExit(f"preflight {name}: bundle_rules excludes modules this run imported: {bad}")
            log(f"preflight {name}: ok, no excluded module was imported")


def app_has_self_test(py: Path) -> bool:
    """True once the app shell offers ``--self-test`` (checked in the build venv's installed copy)."""
    check = subprocess.run(
        [str(py), "-c", "import importlib.util as u; s = u.find_spec('fashionstudio.__main__'); "
         "print(bool(s) and '--self-test' in open(s.origin, encoding='utf-8').read())"],
        capture_output=True, text=True,
    )
    return check.stdout.strip() == "True"


def bundle_dir(target: str) -> Path:
    return DIST_DIR / target / "FashionStudio"


def folder_size_mb(folder: Path) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 1e6, 1)


def pyinstaller(py: Path, target: str, entry: Path | None) -> Path:
    env = dict(os.environ, FASHIONSTUDIO_FLAVOUR=TARGETS[target]["flavour"])
    if entry:
        env["FASHIONSTUDIO_ENTRY"] = str(entry.resolve())
    started = time.perf_counter()
    run(
        [py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", DIST_DIR / target, "--workpath", BUILD_DIR / f"work-{target}", HERE / "fashionstudio.spec"],
        env=env,
    )
    out = bundle_dir(target)
    log(f"PyInstaller took {time.perf_counter() - started:.0f} s; bundle {out} is {folder_size_mb(out)} MB")
    return out


def check_bundle(out: Path, flavour: str) -> None:
    """What must not be in any bundle: torchvision, and in the CPU flavour, CUDA libraries."""
    internal = out / "_internal" if (out / "_internal").is_dir() else out
    problems = [p for p in ("torchvision", "tensorboard") if (internal / p).exists()]
    if flavour == "cpu":
        problems += [str(p.relative_to(out)) for p in internal.rglob("*cudnn*")]
        problems += [str(p.relative_to(out)) for p in internal.rglob("libtorch_cuda*")]
    required = bundle_rules.REQUIRED_FILES + (bundle_rules.REQUIRED_FILES_LINUX if sys.platform.startswith("linux") else ())
    problems += [f"{pattern} missing" for pattern in required if not any(internal.glob(pattern))]
    # Package data the trainer reads (preset configs), as pip installed it into the build venv.
    for config in (REPO / "training" / "configs").glob("*/*.toml"):
        if not (internal / config.relative_to(REPO)).exists():
            problems.append(f"trainer preset {config.relative_to(REPO)} missing")
    for model in (bundle_rules.source_resources_dir(REPO) / "models").glob("*.safetensors"):
        if not (internal / "resources" / "models" / model.name).exists():
            problems.append(f"demo model {model.name} missing")
    if problems:
        raise SystemExit(f"The bundle contains what it must not (or lacks resources): {problems}")
    log("bundle check: no torchvision, resources present" + (", no CUDA libraries" if flavour == "cpu" else ""))


def add_linux_desktop_files(out: Path) -> None:
    """Put the .desktop file and the per-user installer next to the executable."""
    shutil.copy2(HERE / "linux" / "fashionstudio.desktop", out / "fashionstudio.desktop")
    shutil.copy2(HERE / "linux" / "install.sh", out / "install.sh")
    (out / "install.sh").chmod(0o755)


def archive_linux(out: Path, target: str) -> Path:
    tarball = DIST_DIR / f"FashionStudio-{target}.tar.gz"
    log(f"writing {tarball}")
    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(out, arcname="FashionStudio")
    log(f"{tarball.name}: {tarball.stat().st_size / 1e6:.1f} MB")
    return tarball


def archive(target: str, out: Path) -> None:
    system = TARGETS[target]["os"]
    if system == "linux":
        archive_linux(out, target)
    elif system == "darwin":
        run(["bash", HERE / "macos" / "make_dmg.sh", DIST_DIR / target / "FashionStudio.app", DIST_DIR / "FashionStudio-macos.dmg"])
    else:
        iscc = shutil.which("iscc") or shutil.which("ISCC.exe")
        if not iscc:
            raise SystemExit("Inno Setup's iscc was not found on PATH: install Inno Setup 6 to make the installer.")
        run([iscc, f"/DFlavour={TARGETS[target]['flavour']}", HERE / "windows" / "fashionstudio.iss"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the FashionStudio desktop bundle.")
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--archive", action="store_true", help="also make the tarball / .dmg / installer")
    parser.add_argument("--skip-preflight", action="store_true")
    parser.add_argument("--preflight-only", action="store_true", help="set up the venv and run the preflight only")
    parser.add_argument("--entry", type=Path, help="another entry script (e.g. packaging/probe_app.py)")
    args = parser.parse_args(argv)

    wanted = TARGETS[args.target]["os"]
    here = "linux" if sys.platform.startswith("linux") else sys.platform
    if here != wanted:
        raise SystemExit(f"{args.target} must be built on {wanted} (PyInstaller does not cross-compile); this is {here}.")
    if hasattr(os, "nice"):
        os.nice(10)  # builds share the machine; everything below inherits the lower priority
    log(f"target {args.target} on {platform.platform()}")
    venv = ensure_venv(args.target)
    py = venv_python(venv)
    if not args.skip_preflight:
        preflight(py, TARGETS[args.target]["flavour"])
    if args.preflight_only:
        return 0
    out = pyinstaller(py, args.target, args.entry)
    check_bundle(out, TARGETS[args.target]["flavour"])
    if wanted == "linux":
        add_linux_desktop_files(out)
    if args.archive:
        archive(args.target, out)
    print(json.dumps({"target": args.target, "bundle": str(out), "size_mb": folder_size_mb(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
