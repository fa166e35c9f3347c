"""What goes into the FashionStudio bundle and what is left out, in one place.

Used by the PyInstaller spec (``fashionstudio.spec``), by ``build.py``'s preflight check and by the tests, so the
rules are plain data plus two pure functions. No PyInstaller or Qt import here.

Why each group is excluded (sizes measured on the torch 2.13 CPU wheel and PySide6-Essentials 6.12, Linux):

- torchvision & co.: the app never imports it (only the trainer's Inception metric does, lazily), and the
  torchvision build matching the 2.13 CPU wheel does not work with it anyway.
- torch's C++ test binaries, headers, CMake files and static libraries (torch/bin 50 MB, torch/test 83 MB,
  torch/include 62 MB, torch/lib/*test*.so): build-time material, never loaded.
- Qt Quick/QML/Designer/WebEngine/Multimedia/3D...: the app is QtWidgets only (+ pyqtgraph, which needs
  QtOpenGL and probes QtTest inside ``try``).
- CUDA libraries in the CPU flavour: a CPU bundle that carries them is 2-3 GB instead of a few hundred MB.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

# Python modules (and everything below them) that must never be collected.
EXCLUDED_MODULES: tuple[str, ...] = (
    # Not needed by the app at run time.
    "torchvision",
    "torchaudio",
    "torchtext",
    "tensorboard",
    "torch.utils.tensorboard",
    "torch.utils.benchmark",
    # (torch.onnx, torch._inductor and torch.testing._internal.distributed look optional but are imported by
    # ``import torch`` or by an optimiser step: the preflight run showed it, so they stay.)
    "torch.testing._internal.opinfo",
    "torch.testing._internal.optests",
    "torch.testing._internal.common_methods_invocations",
    "triton",
    "onnx",
    "onnxruntime",
    # Development and test tools.
    "pytest",
    "_pytest",
    "pytestqt",
    "skimage",
    "IPython",
    "jupyter",
    "jupyter_client",
    "notebook",
    "setuptools",
    "pip",
    "pkg_resources",
    "PyInstaller",
    "sympy.testing",
    "numpy.f2py",
    "numpy.distutils",
    # Heavy optional imports of our dependencies that the app does not use.
    "matplotlib",
    "scipy",
    "pandas",
    "cv2",
    "tkinter",
    "_tkinter",
    # Other Qt bindings (pyqtgraph probes for them).
    "PyQt5",
    "PyQt6",
    "PySide2",
    # Qt modules the app does not use.
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuick3D",
    "PySide6.QtNetwork",
    "PySide6.QtNetworkAuth",
    "PySide6.QtSql",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtTest",  # pyqtgraph imports it inside try/except (QtOpenGL it imports for real: kept)
    "PySide6.QtSvgWidgets",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.QtBluetooth",
    "PySide6.QtPositioning",
    "PySide6.QtSensors",
    "PySide6.QtSerialPort",
    "PySide6.QtRemoteObjects",
    "PySide6.QtScxml",
    "PySide6.QtStateMachine",
    "PySide6.QtTextToSpeech",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtGraphs",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.QtConcurrent",
    "PySide6.QtDBus",
)

# Collected files (destination paths inside the bundle) that are dropped in every flavour.
DROPPED_FILES: tuple[str, ...] = (
    "torch/bin/*",
    "torch/test/*",
    "torch/include/*",
    "torch/share/*",
    "torch/lib/*test*",
    "torch/lib/libaoti_custom_ops.so",
    "torch/lib/libbackend_with_compiler.so",
    "torch/lib/*.a",
    "torch/lib/*.lib",
    "torchgen/packaged/*",
    "*.pyi",
    "*.cmake",
    "*.h",
    "*.hpp",
    "*.cuh",
    # Qt: QML, Quick and Designer pieces, and translations other than Qt's base strings.
    "PySide6/Qt/qml/*",
    "PySide6/Qt/libexec/*",
    "PySide6/Qt/metatypes/*",
    "PySide6/Qt/plugins/qmltooling/*",
    "PySide6/Qt/plugins/qmllint/*",
    "PySide6/Qt/plugins/designer/*",
    "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/wayland-graphics-integration-server/*",
    "PySide6/Qt/lib/libQt6Quick*",
    "PySide6/Qt/lib/libQt6Qml*",
    "PySide6/Qt/lib/libQt6Designer*",
    "PySide6/Qt/lib/libQt6WaylandCompositor*",
    "PySide6/Qt/lib/libQt6LabsStyleKit*",
    "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/translations/assistant_*",
    "PySide6/Qt/translations/designer_*",
    "PySide6/Qt/translations/linguist_*",
    "PySide6/Qt/translations/qtdeclarative_*",
    "PySide6/Qt/translations/qtmultimedia_*",
    "PySide6/Qt/translations/qtwebengine_*",
    "PySide6/Qt/translations/qtconnectivity_*",
    "PySide6/Qt/translations/qtlocation_*",
    "PySide6/Qt/translations/qtserialport_*",
    "PySide6/Qt/translations/qtwebsockets_*",
)

# Additionally dropped from the CPU flavour: anything CUDA. (build.py also refuses a CUDA torch for it.)
DROPPED_FILES_CPU: tuple[str, ...] = (
    # Linux names carry a "lib" prefix, Windows DLLs do not (cudnn64_9.dll): match both.
    "nvidia/*",
    "*libcuda.*",
    "*cudart*",
    "*cublas*",
    "*cudnn*",
    "*cufft*",
    "*curand*",
    "*cusolver*",
    "*cusparse*",
    "*nccl*",
    "*nvrtc*",
    "*nvJitLink*",
    "*nvToolsExt*",
    "*torch_cuda*",
    "*c10_cuda*",
    "triton/*",
)

# Collected files kept although a pattern above matches them: ``import torch`` checks that this helper exists.
KEPT_FILES: tuple[str, ...] = ("torch/bin/torch_shm_manager",)

# Libraries stripped of their symbol tables on Linux (libtorch_cpu.so 434 -> 345 MB, libpython 23 -> 6 MB, the
# interpreter's extension modules 12 -> 5 MB). Only these: stripping every library (PyInstaller's strip=True)
# breaks the auditwheel-patched ones, e.g. numpy's OpenBLAS fails with "ELF load command address/offset not
# page-aligned".
STRIPPED_FILES: tuple[str, ...] = (
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libtorch_python.so",
    "libpython3*.so*",
    "python3*/lib-dynload/*.so",
)

# Files every bundle must contain (globs inside the bundle's _internal folder), checked after each build.
REQUIRED_FILES: tuple[str, ...] = (
    "PySide6/QtOpenGL.*",  # pyqtgraph imports it with importlib, which PyInstaller's analysis cannot see
    "resources/icons/fashionstudio.png",
    "resources/samples/person.png",  # the "Try a sample" pictures of the empty canvases
)
REQUIRED_FILES_LINUX: tuple[str, ...] = ("torch/bin/torch_shm_manager",)  # ``import torch`` checks it exists

# Imported by name at run time, invisible to PyInstaller's import analysis.
HIDDEN_IMPORTS: tuple[str, ...] = ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets")

FLAVOURS = ("cpu", "cuda")


def source_resources_dir(repo: Path) -> Path:
    """The checkout's resources folder: ``resources/`` at the top, or ``fashionstudio/resources`` if it moved there
    (so that wheels carry it as package data). Inside the bundle it is always ``<bundle>/resources``."""
    for candidate in (repo / "fashionstudio" / "resources", repo / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"No resources folder in {repo} (looked for fashionstudio/resources and resources).")

def is_excluded_module(name: str) -> bool:
    """True if the Python module ``name`` is, or is inside, an excluded module."""
    return any(name == ex or name.startswith(ex + ".") for ex in EXCLUDED_MODULES)


def keep_file(dest: str, flavour: str) -> bool:
    """Whether a collected file (its destination path inside the bundle) stays in the ``flavour`` bundle."""
    if flavour not in FLAVOURS:
        raise ValueError(f"Unknown bundle flavour {flavour!r}; use one of {', '.join(FLAVOURS)}.")
    path = PurePosixPath(dest.replace("\\", "/")).as_posix()
    if path in KEPT_FILES:
        return True
    patterns = DROPPED_FILES + (DROPPED_FILES_CPU if flavour == "cpu" else ())
    return not any(fnmatchcase(path, pattern) for pattern in patterns)


def should_strip(dest: str) -> bool:
    """Whether a collected library (destination path) is stripped on Linux."""
    path = dest.replace("\\", "/")
    return any(fnmatchcase(path, pattern) for pattern in STRIPPED_FILES)


def excluded_modules_in_use(module_names: list[str] | set[str]) -> list[str]:
    """The modules of a real run (``sys.modules``) that the exclusions would remove: must be empty."""
    return sorted(name for name in module_names if is_excluded_module(name))
