"""Static checks of the packaging files: they parse, agree with each other and name files that exist.

No build happens here (packaging/smoke_test.py does that, outside the normal test run).
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import fashionstudio
from fashionstudio.core import resources

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
# resources/ may move into the package (fashionstudio/resources) so that wheels carry it; follow it.
RESOURCES = next(p for p in (REPO / "fashionstudio" / "resources", REPO / "resources") if p.is_dir())
ICONS = RESOURCES / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# One list of image types for all three platforms: Linux MIME type, Windows extensions, macOS UTI.
IMAGE_TYPES = {
    "image/png": ({".png"}, "public.png"),
    "image/jpeg": ({".jpg", ".jpeg"}, "public.jpeg"),
    "image/webp": ({".webp"}, "org.webmproject.webp"),
    "image/bmp": ({".bmp"}, "com.microsoft.bmp"),
    "image/tiff": ({".tif", ".tiff"}, "public.tiff"),
}


def _load_packaging_module(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read(PACKAGING / "linux" / "fashionstudio.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def _iss_text() -> str:
    return (PACKAGING / "windows" / "fashionstudio.iss").read_text(encoding="utf-8")


def _info_plist() -> dict:
    with open(PACKAGING / "macos" / "Info.plist", "rb") as fh:
        return plistlib.load(fh)


# --- icons -----------------------------------------------------------------------------------------------------


def test_every_png_icon_size_exists_with_its_size():
    for size in PNG_SIZES:
        with Image.open(ICONS / f"fashionstudio-{size}.png") as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"


def test_derived_icons_match_the_master():
    """A redrawn master with stale derived sizes would ship two different icons."""
    import numpy as np

    master = Image.open(ICONS / "fashionstudio.png").convert("RGBA")
    assert master.size == (1024, 1024)
    expected = np.asarray(master.resize((64, 64), Image.Resampling.LANCZOS), dtype=np.float32)
    actual = np.asarray(Image.open(ICONS / "fashionstudio-64.png").convert("RGBA"), dtype=np.float32)
    assert np.abs(expected - actual).mean() < 2.0


def test_ico_holds_the_windows_sizes():
    with Image.open(ICONS / "fashionstudio.ico") as ico:
        sizes = ico.info["sizes"]
    for size in (16, 32, 48, 256):
        assert (size, size) in sizes


def test_icns_holds_the_macos_sizes():
    with Image.open(ICONS / "fashionstudio.icns") as icns:
        assert icns.format == "ICNS"
        sizes = {s[:2] for s in icns.info["sizes"]}
    for size in (16, 32, 128, 256, 512):
        assert (size, size) in sizes


def test_icon_drawing_has_transparent_corners_and_an_opaque_centre():
    make_icons = _load_packaging_module("make_icons")
    icon = make_icons.draw_icon(64)
    assert icon.size == (64, 64)
    assert icon.getpixel((0, 0))[3] == 0
    assert icon.getpixel((32, 32))[3] == 255


# --- Linux -----------------------------------------------------------------------------------------------------


def test_desktop_file_parses_and_names_an_existing_icon():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == fashionstudio.APP_NAME
    assert entry["Terminal"] == "false"
    assert (ICONS / f"{entry['Icon']}-256.png").exists()
    # %F: the desktop passes every chosen file as its own argument, which the app opens on the canvas.
    assert entry["Exec"].split() == ["fashionstudio", "%F"]


def test_desktop_file_offers_open_with_for_every_image_type():
    mime = _desktop_entry()["MimeType"]
    assert mime.endswith(";")
    assert set(filter(None, mime.split(";"))) == set(IMAGE_TYPES)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_passes_the_freedesktop_validator():
    done = subprocess.run(
        ["desktop-file-validate", str(PACKAGING / "linux" / "fashionstudio.desktop")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_linux_install_script_writes_an_absolute_exec_and_the_icons(tmp_path):
    bundle = tmp_path / "FashionStudio"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ICONS, bundle / "_internal" / "resources" / "icons")
    shutil.copy2(PACKAGING / "linux" / "fashionstudio.desktop", bundle)
    shutil.copy2(PACKAGING / "linux" / "install.sh", bundle)
    data = tmp_path / "share"
    env = dict(os.environ, XDG_DATA_HOME=str(data), PATH="/usr/bin:/bin")
    subprocess.run(["sh", str(bundle / "install.sh")], check=True, env=env, capture_output=True)
    installed = (data / "applications" / "fashionstudio.desktop").read_text(encoding="utf-8")
    assert f'Exec="{bundle}/fashionstudio" %F' in installed
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / "fashionstudio.png").exists()
    subprocess.run(["sh", str(bundle / "install.sh"), "--uninstall"], check=True, env=env, capture_output=True)
    assert not (data / "applications" / "fashionstudio.desktop").exists()


# --- Windows ---------------------------------------------------------------------------------------------------


def test_inno_setup_script_references_existing_files_and_the_app_version():
    text = _iss_text()
    iss_dir = PACKAGING / "windows"
    icon = re.search(r"^SetupIconFile=(.+)$", text, re.M).group(1).strip()
    assert (iss_dir / icon.replace("\\", "/")).resolve() == (ICONS / "fashionstudio.ico").resolve()
    assert re.search(r'#define AppVersion "([^"]+)"', text).group(1) == fashionstudio.__version__
    # The installer copies the folder the build writes (packaging/dist/windows-<flavour>/FashionStudio).
    bundle = re.search(r'#define BundleDir "([^"]+)" \+ Flavour \+ "([^"]+)"', text)
    assert (iss_dir / bundle.group(1).replace("\\", "/")).resolve() == (PACKAGING / "dist" / "windows-").resolve()
    assert bundle.group(2) == "\\FashionStudio"
    assert re.search(r'#define AppExe "([^"]+)"', text).group(1) == "FashionStudio.exe"


def test_inno_setup_associates_the_same_image_types_as_the_other_platforms():
    text = _iss_text()
    open_with = set(re.findall(r'Classes\\(\.[a-z]+)\\OpenWithProgids', text))
    supported = set(re.findall(r'SupportedTypes"; ValueType: string; ValueName: "(\.[a-z]+)"', text))
    expected = set().union(*(exts for exts, _ in IMAGE_TYPES.values()))
    assert open_with == expected
    assert supported == expected
    assert "ChangesAssociations=yes" in text
    # The open command passes the file as an argument, quoted for paths with spaces.
    assert '""{app}\\{#AppExe}"" ""%1""' in text


# --- macOS -----------------------------------------------------------------------------------------------------


def test_info_plist_parses_and_declares_image_documents():
    plist = _info_plist()
    assert plist["CFBundleShortVersionString"] == fashionstudio.__version__
    assert plist["CFBundleExecutable"] == "FashionStudio"
    assert (ICONS / plist["CFBundleIconFile"]).exists()
    types = set()
    for document in plist["CFBundleDocumentTypes"]:
        assert document["CFBundleTypeRole"] in {"Viewer", "Editor"}
        types.update(document["LSItemContentTypes"])
    assert types == {uti for _, uti in IMAGE_TYPES.values()}


def test_packaging_scripts_are_executable():
    for script in ("linux/install.sh", "linux/make_appimage.sh", "macos/make_dmg.sh"):
        assert os.access(PACKAGING / script, os.X_OK), script


# --- the spec and its rules ------------------------------------------------------------------------------------


def test_spec_names_files_that_exist():
    spec = (PACKAGING / "fashionstudio.spec").read_text(encoding="utf-8")
    assert (PACKAGING / "launcher.py").exists() and '"launcher.py"' in spec
    assert (PACKAGING / "macos" / "Info.plist").exists() and '"Info.plist"' in spec
    for name in re.findall(r'"(fashionstudio\.(?:ico|icns))"', spec):
        assert (ICONS / name).exists()
    assert 'datas=[(str(RESOURCES), "resources")] + collect_data_files("fashionstudio")' in spec


def test_bundle_rules_drop_test_binaries_and_cuda_only_from_the_cpu_flavour():
    rules = _load_packaging_module("bundle_rules")
    assert rules.keep_file("torch/lib/libtorch_cpu.so", "cpu")
    assert rules.keep_file("PySide6/Qt/lib/libQt6Widgets.so.6", "cpu")
    assert rules.keep_file("resources/models/generate.safetensors", "cpu")
    assert not rules.keep_file("torch/bin/test_api", "cpu")
    assert not rules.keep_file("torch/include/ATen/ATen.h", "cuda")
    assert not rules.keep_file("torch/lib/libtorchbind_test.so", "cuda")
    assert not rules.keep_file("nvidia/cudnn/lib/libcudnn.so.9", "cpu")
    assert rules.keep_file("nvidia/cudnn/lib/libcudnn.so.9", "cuda")
    assert not rules.keep_file("torch\\lib\\cudnn64_9.dll", "cpu")  # Windows: no "lib" prefix
    assert not rules.keep_file("torch/lib/libtorch_cuda.so", "cpu")
    with pytest.raises(ValueError, match="flavour"):
        rules.keep_file("torch/lib/libc10.so", "rocm")


def test_only_libraries_that_survive_it_are_stripped():
    rules = _load_packaging_module("bundle_rules")
    assert rules.should_strip("torch/lib/libtorch_cpu.so")
    assert rules.should_strip("libpython3.11.so.1.0")
    assert rules.should_strip("python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so")
    # auditwheel-patched libraries break when stripped
    assert not rules.should_strip("numpy.libs/libscipy_openblas64_-32a4b2a6.so")
    assert not rules.should_strip("PySide6/Qt/lib/libQt6Core.so.6")


def test_required_files_and_hidden_imports_survive_the_exclusions():
    rules = _load_packaging_module("bundle_rules")
    for pattern in rules.REQUIRED_FILES + rules.REQUIRED_FILES_LINUX:
        example = pattern.replace("*", "abi3.so")
        assert rules.keep_file(example, "cpu") and rules.keep_file(example, "cuda"), pattern
    for module in rules.HIDDEN_IMPORTS:
        assert not rules.is_excluded_module(module), module


def test_bundle_rules_exclude_whole_module_trees_only():
    rules = _load_packaging_module("bundle_rules")
    assert rules.is_excluded_module("torchvision")
    assert rules.is_excluded_module("torchvision.models.inception")
    assert not rules.is_excluded_module("torch")
    assert not rules.is_excluded_module("torchvisionary")
    assert rules.excluded_modules_in_use({"torch", "torchvision.ops", "PySide6.QtWidgets"}) == ["torchvision.ops"]
    # pyqtgraph imports QtOpenGL unconditionally (PlotCurveItem): excluding it broke the Train tab once.
    assert not rules.is_excluded_module("PySide6.QtOpenGL")


# --- resource lookup -------------------------------------------------------------------------------------------


def test_resource_path_finds_the_icon_from_a_source_checkout(monkeypatch):
    monkeypatch.delenv(resources.RESOURCES_ENV, raising=False)
    path = resources.resource_path("icons", "fashionstudio-256.png")
    assert path == ICONS / "fashionstudio-256.png"
    assert resources.resource_path() == RESOURCES


def test_resource_path_prefers_the_frozen_bundle(monkeypatch, tmp_path):
    monkeypatch.delenv(resources.RESOURCES_ENV, raising=False)
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    (tmp_path / "resources" / "icons" / "x.png").write_bytes(b"")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resource_path("icons", "x.png") == tmp_path / "resources" / "icons" / "x.png"


def test_resource_path_reports_a_missing_file_by_name(monkeypatch):
    monkeypatch.delenv(resources.RESOURCES_ENV, raising=False)
    with pytest.raises(resources.ResourceNotFoundError, match="models/nothing.safetensors") as err:
        resources.resource_path("models", "nothing.safetensors")
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(ValueError, match="relative"):
        resources.resource_path("..", "pyproject.toml")


def test_resource_override_must_be_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(resources.RESOURCES_ENV, str(tmp_path))
    assert resources.resource_path() == tmp_path
    monkeypatch.setenv(resources.RESOURCES_ENV, str(tmp_path / "missing"))
    with pytest.raises(resources.ResourceNotFoundError, match=resources.RESOURCES_ENV):
        resources.resource_path()


# --- the bundle's entry point ----------------------------------------------------------------------------------


def test_launcher_runs_the_trainer_for_dash_m_training(monkeypatch, capsys):
    launcher = _load_packaging_module("launcher")
    monkeypatch.setattr(sys, "argv", ["FashionStudio"])
    assert launcher.main(["-m", "training", "--help"]) == 0
    assert "python -m training <command>" in capsys.readouterr().out
    # Any other "-m" goes to the app like every other argument: the bundle is not a general Python interpreter.
    import fashionstudio.__main__ as app_main

    monkeypatch.setattr(app_main, "main", lambda: 7)
    assert launcher.main(["-m", "os"]) == 7


def test_preflight_runs_blocks_what_the_bundle_leaves_out(tmp_path):
    """module_dump makes excluded modules unimportable, so the preflight fails where the bundle would."""
    script = tmp_path / "probe.py"
    script.write_text(
        "try:\n    import torchvision\n    print('imported')\nexcept ModuleNotFoundError as e:\n    print('blocked', e.name)\n"
        "import json\nprint('json ok')\n"
    )
    out = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, str(PACKAGING / "module_dump.py"), str(out), str(script)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["blocked torchvision", "json ok"]
    assert "torchvision" not in out.read_text().split()
