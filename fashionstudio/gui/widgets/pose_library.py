"""PoseLibrary: thumbnails of ready-made target poses, and the keypoint annotations of imported datasets.

Poses come from every pose-transfer CSV (``name:keypoints_y:keypoints_x``) in the shipped ``resources/poses/``
folder (a thumbnail image named like the pose, ``<stem>.png`` beside the CSV or in ``thumbnails/``, is shown
when present and gives the keypoints' frame), from CSV files the designer imports, and, when the shipped folder
is empty, from a few built-in poses. Every row read also goes into an annotation index, so that a photo whose
file name appears in a loaded CSV can lend its own pose ("use this photo's pose").
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from fashionstudio.core.pose_transfer import STANDARD_FRAME, default_target_pose, normalise_keypoints
from fashionstudio.core.poses import LIMB_COLOURS, LIMBS, PoseFormatError, read_pose_csv, visible
from fashionstudio.core.source_poses import photo_annotation_names  # one spelling of a photo's CSV names
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

THUMB = QSize(62, 72)
MAX_THUMBNAILS_PER_CSV = 120  # a DeepFashion annotation file has ~50k rows: index them all, show a few
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class LibraryPose:
    """One pose of the library: normalised (y, x) keypoints in a frame of aspect ``aspect`` (w/h)."""

    name: str
    pose: np.ndarray
    aspect: float
    origin: str = "built-in"
    thumbnail: Path | None = None
    pixels: np.ndarray | None = field(default=None, repr=False)  # the CSV's own (y, x), if it came from one


def guess_frame(keypoints_px: np.ndarray) -> tuple[int, int]:
    """The (h, w) frame of CSV keypoints when no image tells it: the pose-transfer standard 256 x 176 when they
    fit, a square 256 when they fit that, else a frame just around them."""
    kp = np.asarray(keypoints_px).reshape(-1, 2)
    kp = kp[(kp[:, 0] >= 0) & (kp[:, 1] >= 0)]
    if kp.size == 0:
        return STANDARD_FRAME
    my, mx = float(kp[:, 0].max()), float(kp[:, 1].max())
    if my < STANDARD_FRAME[0] and mx < STANDARD_FRAME[1]:
        return STANDARD_FRAME
    if my < 256 and mx < 256:
        return (256, 256)
    return (math.ceil(my * 1.08) + 1, math.ceil(mx * 1.08) + 1)


def _thumbnail_for(csv_path: Path, name: str) -> Path | None:
    stem = Path(name).stem
    folder = csv_path.parent
    for base in (folder, folder / "thumbnails"):
        if (base / name).suffix.lower() in _IMAGE_SUFFIXES and (base / name).is_file():
            return base / name
        for suffix in _IMAGE_SUFFIXES:
            if (base / f"{stem}{suffix}").is_file():
                return base / f"{stem}{suffix}"
    return None


def read_pose_file(csv_path: str | Path, origin: str, max_shown: int = MAX_THUMBNAILS_PER_CSV
                   ) -> tuple[list[LibraryPose], dict[str, np.ndarray]]:
    """Parse one pose CSV into (poses to show, {name: pixel keypoints} for the annotation index).

    Raises PoseFormatError with a sentence naming the file and line when it is not a pose-transfer CSV.
    """
    from PIL import Image

    path = Path(csv_path)
    try:
        rows = read_pose_csv(path)
    except UnicodeDecodeError:
        raise PoseFormatError(f"'{path.name}' is not a text file, so it cannot be a pose CSV "
                              f"(expected the header 'name:keypoints_y:keypoints_x').") from None
    except PoseFormatError as exc:
        raise PoseFormatError(f"'{path.name}' is not a pose CSV FashionStudio can read: {exc}") from None
    if not rows:
        raise PoseFormatError(f"'{path.name}' holds no poses: it has the header line but no rows.")
    # One frame per file: every row of an annotation file shares its images' size. Thumbnails are often
    # smaller than that frame, so they give its aspect and the keypoints give its scale.
    sample = list(rows.values())[:5000]
    stacked = np.concatenate(sample)
    frame = guess_frame(stacked)
    shown: list[LibraryPose] = []
    for name, kp in list(rows.items())[:max_shown]:
        thumb = _thumbnail_for(path, name)
        row_frame = frame
        if thumb is not None:
            try:
                with Image.open(thumb) as im:
                    th, tw = im.height, im.width
            except OSError:
                thumb = None
            else:
                ok = stacked[visible(stacked)]
                k = max(1, math.ceil(max(float(ok[:, 0].max()) / th, float(ok[:, 1].max()) / tw))) if ok.size else 1
                row_frame = (th * k, tw * k)
        shown.append(LibraryPose(Path(name).stem, normalise_keypoints(kp, row_frame), row_frame[1] / row_frame[0],
                                 origin, thumb, kp))
    return shown, rows


def load_library_folder(folder: Path | None) -> tuple[list[LibraryPose], dict[str, np.ndarray], list[str]]:
    """Every CSV in ``folder``: (poses, annotation index, problems as sentences). Runs on a worker thread."""
    poses: list[LibraryPose] = []
    index: dict[str, np.ndarray] = {}
    problems: list[str] = []
    if folder is not None and folder.is_dir():
        for csv in sorted(folder.glob("*.csv")):
            try:
                shown, rows = read_pose_file(csv, "library")
            except PoseFormatError as exc:
                problems.append(str(exc))
                continue
            poses += shown
            index.update(rows)
    return poses, index, problems


def built_in_poses() -> list[LibraryPose]:
    """A few poses every installation has, derived from the standing pose (frame 256 x 176, pixels)."""
    h, w = STANDARD_FRAME
    base = default_target_pose(w / h) * np.array([h, w], np.float32) - 0.5

    def pose(name: str, **moves: tuple[float, float]) -> LibraryPose:
        from fashionstudio.core.poses import KEYPOINT_INDEX

        px = base.copy()
        for joint, yx in moves.items():
            px[KEYPOINT_INDEX[joint]] = yx
        return LibraryPose(name, normalise_keypoints(px, (h, w)), w / h, "built-in", None, px)

    return [
        pose("Standing"),
        pose("Arms raised", right_elbow=(40, 52), right_wrist=(10, 50), left_elbow=(40, 124), left_wrist=(10, 126)),
        pose("Hands on hips", right_elbow=(98, 40), right_wrist=(128, 70), left_elbow=(98, 136),
             left_wrist=(128, 106)),
        pose("Arms out", right_elbow=(66, 36), right_wrist=(66, 8), left_elbow=(66, 140), left_wrist=(66, 168)),
        pose("Walking", right_knee=(180, 62), right_ankle=(226, 50), left_knee=(184, 106), left_ankle=(232, 116),
             right_elbow=(100, 64), right_wrist=(128, 72), left_elbow=(98, 114), left_wrist=(126, 104)),
        pose("Wide stance", right_knee=(182, 58), right_ankle=(230, 44), left_knee=(182, 118),
             left_ankle=(230, 132)),
    ]


def render_thumbnail(pose: LibraryPose, size: QSize = THUMB) -> QImage:
    """A small white card with the pose's skeleton (used when the library has no picture for it)."""
    img = QImage(size, QImage.Format.Format_RGB32)
    img.fill(QColor("#ffffff"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    # Fit the pose frame inside the card, aspect kept.
    fw = min(size.width(), size.height() * pose.aspect)
    fh = fw / pose.aspect
    ox, oy = (size.width() - fw) / 2, (size.height() - fh) / 2
    pts = [None if y < 0 or x < 0 else (ox + x * fw, oy + y * fh) for y, x in pose.pose]
    pen_w = max(1.5, size.height() / 40)
    for (a, b), rgb in zip(LIMBS, LIMB_COLOURS):
        if pts[a] is not None and pts[b] is not None:
            p.setPen(QPen(QColor(*rgb), pen_w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawLine(*[int(round(v)) for v in (*pts[a], *pts[b])])
    p.end()
    return img


class PoseLibrary(QListWidget):
    """Thumbnail grid of poses. ``pose_picked(LibraryPose)`` when one is clicked or activated with the keyboard;
    ``problem(str)`` with a sentence when a file cannot be read; ``loaded()`` when a load finished."""

    pose_picked = Signal(object)
    imported = Signal(str)  # path of a CSV imported successfully
    problem = Signal(str)
    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(THUMB)
        self.setGridSize(QSize(THUMB.width() + 12, THUMB.height() + 34))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Pose library")
        self.setToolTip("Click a pose (or select it and press Enter) to make it the target pose.")
        self.annotations: dict[str, np.ndarray] = {}
        self._poses: list[LibraryPose] = []
        self._pending = 0
        self._indexed: set[Path] = set()
        self.itemClicked.connect(self._on_item)
        self.itemActivated.connect(self._on_item)

    # -- content ---------------------------------------------------------------------------------------------------
    def poses(self) -> list[LibraryPose]:
        return list(self._poses)

    def is_loading(self) -> bool:
        return self._pending > 0

    def load_folder(self, folder: Path | None) -> None:
        """Read the shipped library in the background; falls back to the built-in poses when it is empty."""
        self._pending += 1

        def done(result: tuple[list[LibraryPose], dict[str, np.ndarray], list[str]]) -> None:
            self._pending -= 1
            poses, index, problems = result
            self.annotations.update(index)
            self.add_poses(poses or built_in_poses())
            for message in problems:
                self.problem.emit(message)
            self.loaded.emit()

        def fail(exc: BaseException) -> None:
            self._pending -= 1
            log.warning("pose library could not be read", exc_info=exc)
            self.add_poses(built_in_poses())
            self.problem.emit(f"The pose library could not be read ({exc}); showing the built-in poses.")
            self.loaded.emit()

        run_in_background(lambda: load_library_folder(folder), done, fail, context=self)

    def import_csv(self, path: str | Path) -> None:
        """Add the poses of a pose-transfer CSV (read in the background) and index its names."""
        path = Path(path)
        self._pending += 1

        def done(result: tuple[list[LibraryPose], dict[str, np.ndarray]]) -> None:
            self._pending -= 1
            shown, rows = result
            self.annotations.update(rows)
            self.add_poses(shown)
            more = f" ({len(shown)} shown)" if len(shown) < len(rows) else ""
            self.problem.emit(f"Imported {len(rows)} poses from {path.name}{more}.")
            self.imported.emit(str(path))
            self.loaded.emit()

        def fail(exc: BaseException) -> None:
            self._pending -= 1
            message = str(exc) if isinstance(exc, (PoseFormatError, OSError)) else \
                f"'{path.name}' could not be imported as a pose CSV ({exc})."
            self.problem.emit(message)
            self.loaded.emit()

        run_in_background(lambda: read_pose_file(path, path.name), done, fail, context=self)

    def index_dataset_of(self, photo_path: str | Path, on_done=None) -> None:
        """Look for a dataset's keypoint CSV (``*annotation*.csv``) in the photo's folder and up to five folders
        above it, and index its rows (no thumbnails) in the background; each file is read once."""
        photo_path = Path(photo_path)
        known = set(self._indexed)

        def find_and_read() -> dict[str, np.ndarray]:
            rows: dict[str, np.ndarray] = {}
            for folder in list(photo_path.parents)[:6]:
                for csv in sorted(folder.glob("*annotation*.csv")):
                    if csv in known:
                        continue
                    known.add(csv)
                    try:
                        rows.update(read_pose_csv(csv))
                    except (PoseFormatError, UnicodeDecodeError, OSError):
                        log.info("not a pose CSV: %s", csv)
            return rows

        def done(rows: dict[str, np.ndarray]) -> None:
            self._indexed |= known
            self.annotations.update(rows)
            if on_done is not None:
                on_done()

        run_in_background(find_and_read, done, context=self)

    def add_poses(self, poses: list[LibraryPose]) -> None:
        for pose in poses:
            image = None
            if pose.thumbnail is not None:
                image = QImage(str(pose.thumbnail))
                if image.isNull():
                    image = None
                else:
                    image = image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
            item = QListWidgetItem(QIcon(QPixmap.fromImage(image or render_thumbnail(pose))), pose.name)
            item.setToolTip(f"{pose.name} ({pose.origin})")
            item.setData(Qt.ItemDataRole.UserRole, len(self._poses))
            self._poses.append(pose)
            self.addItem(item)

    def pick(self, row: int) -> LibraryPose:
        """Select row ``row`` and emit ``pose_picked`` (what a click does)."""
        item = self.item(row)
        self.setCurrentItem(item)
        self._on_item(item)
        return self._poses[item.data(Qt.ItemDataRole.UserRole)]

    def _on_item(self, item: QListWidgetItem) -> None:
        self.pose_picked.emit(self._poses[item.data(Qt.ItemDataRole.UserRole)])

    # -- "use this photo's pose" -----------------------------------------------------------------------------------
    def pose_of_photo(self, photo_path: str | Path | None) -> np.ndarray | None:
        """The annotated pixel keypoints of ``photo_path`` in a loaded CSV, or None. Matches the file name, its
        stem with the usual extensions, and DeepFashion In-shop paths under their flattened pose-transfer name."""
        if photo_path is None or not self.annotations:
            return None
        for name in photo_annotation_names(Path(photo_path)):
            if name in self.annotations:
                return self.annotations[name]
        return None
