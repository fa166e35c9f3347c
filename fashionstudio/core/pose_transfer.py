"""The Pose tool's pipeline: a photo of a dressed person + a target pose -> the same person in that pose.

Qt-free, usable from a script or the CLI::

    from fashionstudio.core.modelfile import load_model_file
    from fashionstudio.core.pose_transfer import PoseTransfer, default_target_pose

    transfer = PoseTransfer(load_model_file("pose.safetensors"))
    result = transfer.run(photo, default_target_pose(photo.width / photo.height))
    result.coarse.save("coarse.png"); result.refined.save("refined.png")

Steps: the photo (any aspect ratio) is letterboxed to the model's square input on a background matched to the
photo's border (so the pad looks like more studio backdrop, not a black bar the network never saw); the target
pose is rendered to 18 Gaussian heatmaps at the model resolution (or a DensePose IUV image is read as the target,
for models with ``pose_channels == 3``); G1 gives the coarse result, G2 refines it; both are cut back out of the
square to the photo's aspect ratio.

Coordinates
-----------
A target pose here is a float ``(18, 2)`` array of **normalised (y, x)** in [0, 1] of the photo's frame
(0 = top/left edge, 1 = bottom/right edge), ``-1`` for a missing joint. Normalised coordinates survive any
resize of the photo and are what the Pose tab's editor edits; :func:`normalise_keypoints` and
:func:`pixel_keypoints` convert from and to the pixel (y, x) poses of :mod:`fashionstudio.core.poses` and the
pose-transfer CSV files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from fashionstudio.core.letterbox import Letterbox, backdrop_colour, letterbox, unletterbox
from fashionstudio.core.pipeline_common import check_generated
from fashionstudio.core.poses import NUM_KEYPOINTS, as_pose, visible

# DensePose IUV files store B = part index I (0..24), G = U*255, R = V*255 (Detectron's cv2.imwrite).
IUV_PARTS = 24
IUV_SCALE = np.array([IUV_PARTS, 255.0, 255.0], dtype=np.float32)


class PoseInputError(ValueError):
    """A target pose or IUV image the model cannot use. The message is meant for a designer."""


KEYPOINT_MODEL_GOT_IUV = ("This pose model takes a keypoint skeleton, not a DensePose IUV image: pick a pose "
                          "from the library or drag the skeleton's joints instead.")
IUV_MODEL_GOT_KEYPOINTS = ("This pose model was trained on DensePose IUV maps, not keypoint skeletons: drop a "
                           "DensePose IUV image (a *_IUV.png file) on the target pose area.")
EMPTY_POSE = "The target pose has no joints: pick a pose from the library or reset the skeleton."
NO_SOURCE_POSE = ("This pose model moves the photo's own pixels, so it needs to know the photo's pose: mark it "
                  "with \"Mark this photo's pose\" (drag the skeleton onto the person), or open a photo that comes "
                  "with a keypoint annotation.")
SOURCE_TORSO_MISSING = ("The photo's pose has no {joints}: the body cannot be placed without both shoulders and "
                        "both hips. Drag those joints onto the person in \"Mark this photo's pose\".")
# Joints that carry the torso (OpenPose-18 order) and the limbs a missing joint takes away from the warp.
_TORSO_JOINTS = {2: "right shoulder", 5: "left shoulder", 8: "right hip", 11: "left hip"}
_LIMB_JOINTS = {3: "right elbow", 4: "right wrist", 6: "left elbow", 7: "left wrist", 9: "right knee",
                10: "right ankle", 12: "left knee", 13: "left ankle", 0: "nose"}


def heatmap_sigma(resolution: int) -> float:
    """Heatmap width the trainer uses at ``resolution`` (σ = 6 at 256 px, the pose-transfer convention)."""
    return max(1.0, 6.0 * resolution / 256)


# --- coordinates --------------------------------------------------------------------------------------------------

def normalise_keypoints(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixel (y, x) keypoints of an image of ``size`` = (h, w) -> normalised (y, x) in [0, 1]; missing stay -1."""
    kp = as_pose(keypoints).copy()
    ok = visible(kp)
    kp[ok, 0] = (kp[ok, 0] + 0.5) / size[0]
    kp[ok, 1] = (kp[ok, 1] + 0.5) / size[1]
    return kp


def pixel_keypoints(pose01: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Normalised (y, x) -> pixel (y, x) in an image of ``size`` = (h, w); the inverse of normalise_keypoints."""
    kp = as_pose(pose01).copy()
    ok = visible(kp)
    kp[ok, 0] = kp[ok, 0] * size[0] - 0.5
    kp[ok, 1] = kp[ok, 1] * size[1] - 0.5
    return kp


def refit_pose(pose01: np.ndarray, from_aspect: float, to_aspect: float) -> np.ndarray:
    """Move a normalised pose from a frame of aspect ``from_aspect`` (w/h) to one of ``to_aspect`` without
    stretching the body: the figure keeps its height in the frame (a person photo is framed by the person's
    height) and x is rescaled about the centre line to keep proportions, clamped to the frame."""
    kp = as_pose(pose01).copy()
    ok = visible(kp)
    if abs(from_aspect - to_aspect) < 1e-9:
        return kp
    kp[ok, 1] = np.clip(0.5 + (kp[ok, 1] - 0.5) * (from_aspect / to_aspect), 0.0, 1.0)
    return kp


# A front-facing standing figure in the pose-transfer frame (256 x 176 px, y then x). The person's right side is
# on the image's left, as OpenPose labels a figure facing the camera.
_STANDING_PX = np.array([
    (40, 88), (62, 88),                      # nose, neck
    (65, 66), (100, 58), (134, 54),          # right shoulder, elbow, wrist
    (65, 110), (100, 118), (134, 122),       # left shoulder, elbow, wrist
    (132, 75), (182, 73), (230, 72),         # right hip, knee, ankle
    (132, 101), (182, 103), (230, 104),      # left hip, knee, ankle
    (35, 83), (35, 93), (38, 77), (38, 99),  # right eye, left eye, right ear, left ear
], dtype=np.float32)
STANDARD_FRAME = (256, 176)  # (h, w) of the DeepFashion pose-transfer images and their keypoint CSVs


def default_target_pose(aspect: float = STANDARD_FRAME[1] / STANDARD_FRAME[0]) -> np.ndarray:
    """A neutral standing pose, normalised, fitted into a frame of aspect ``aspect`` (w/h)."""
    pose = normalise_keypoints(_STANDING_PX, STANDARD_FRAME)
    return refit_pose(pose, STANDARD_FRAME[1] / STANDARD_FRAME[0], aspect)


# --- pose conditions ---------------------------------------------------------------------------------------------

def read_iuv(img: Image.Image) -> np.ndarray:
    """A DensePose IUV picture as (H, W, 3) uint8 in (I, U, V) order; raise PoseInputError when it is not one.

    IUV files are written by OpenCV, so the RGB image Pillow reads holds (V, U, I); I is a body-part index 0..24.
    """
    arr = np.asarray(img.convert("RGB"))[..., ::-1]
    parts = arr[..., 0]
    if parts.max() > IUV_PARTS:
        raise PoseInputError("This image is not a DensePose IUV map (its part channel goes above 24): it looks "
                             "like a photo. Drop the *_IUV.png file DensePose wrote for the target person.")
    if not (parts > 0).any():
        raise PoseInputError("This DensePose IUV map is empty: no body part is marked in it.")
    return np.ascontiguousarray(arr)


def iuv_preview(iuv: np.ndarray, background: tuple[int, int, int] = (250, 250, 251)) -> Image.Image:
    """A picture of an (I, U, V) map a person can read: each of the 24 body parts in its own colour, shaded by
    U, on a light background (the raw file is nearly black to the eye)."""
    parts = iuv[..., 0].astype(np.int64)
    hues = (np.arange(IUV_PARTS + 1) * 0.61803) % 1.0  # golden-ratio steps: neighbouring parts differ
    palette = np.stack([_hsv_to_rgb(h, 0.55, 0.9) for h in hues]).astype(np.float32)
    rgb = palette[np.clip(parts, 0, IUV_PARTS)]
    rgb *= (0.75 + 0.25 * iuv[..., 1:2].astype(np.float32) / 255.0)
    rgb[parts == 0] = background
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return r * 255, g * 255, b * 255


def iuv_condition(iuv: np.ndarray, resolution: int) -> np.ndarray:
    """(H, W, 3) uint8 IUV -> float32 (3, R, R) in [0, 1], letterboxed on black as the trainer does."""
    img = Image.fromarray(iuv)
    side = max(img.size)
    square = Image.new("RGB", (side, side), (0, 0, 0))
    square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    small = np.asarray(square.resize((resolution, resolution), Image.Resampling.NEAREST), dtype=np.float32)
    return np.ascontiguousarray((small / IUV_SCALE).transpose(2, 0, 1))


class HeatmapRenderer:
    """18 Gaussian heatmaps at a fixed resolution, with the coordinate grid built once (the same maps as
    :func:`fashionstudio.core.poses.render_heatmaps`, computed in torch straight into the network's input)."""

    def __init__(self, resolution: int, sigma: float | None = None, device: Any = None) -> None:
        import torch

        self.resolution = int(resolution)
        self.sigma = float(sigma if sigma is not None else heatmap_sigma(resolution))
        self._grid = torch.arange(self.resolution, dtype=torch.float32, device=device)
        self._inv = 1.0 / (2.0 * self.sigma**2)

    def __call__(self, keypoints_px: np.ndarray) -> Any:
        """Pixel (y, x) keypoints in the model frame -> tensor [1, 18, R, R]."""
        import torch

        kp = torch.from_numpy(as_pose(keypoints_px)).to(self._grid.device)
        ok = (kp[:, 0] >= 0) & (kp[:, 1] >= 0)
        gy = torch.exp(-((self._grid[None, :] - kp[:, :1]) ** 2) * self._inv) * ok[:, None]
        gx = torch.exp(-((self._grid[None, :] - kp[:, 1:]) ** 2) * self._inv)
        return (gy[:, :, None] * gx[:, None, :]).unsqueeze(0)


# --- the pipeline -------------------------------------------------------------------------------------------------

@dataclass
class PoseResult:
    """Both stages' results cut back to the photo's aspect, and the squares the networks produced. For a PGPG model
    ``coarse`` is G1's result; for a warping model it is the photo's plain warp before the decoder. ``notes`` are
    sentences for the designer about this result (e.g. a limb the photo's pose lacks, drawn from scratch)."""

    coarse: Image.Image
    refined: Image.Image
    coarse_square: Image.Image
    refined_square: Image.Image
    letterbox: Letterbox
    notes: list[str] = field(default_factory=list)


@dataclass
class PreparedSource:
    """A photo made ready for the networks once, reused by every request while the photo stays the same."""

    image: Image.Image
    square: Image.Image
    letterbox: Letterbox
    tensor: Any  # [1, 3, R, R] in [-1, 1] on the model's device


class PoseTransfer:
    """Runs a loaded pose model (``fashionstudio.core.modelfile.LoadedModel`` or anything with ``networks``,
    ``config`` and ``resolution``) on photos and target poses: a two-stage PGPG model (networks G1, G2) or a
    warping model (one generator G that also takes the photo's own pose, ``needs_source_pose``). Caches the
    prepared photo and the heatmap grid, so a stream of pose edits on one photo costs only the generators.
    Thread-safe."""

    def __init__(self, model: Any) -> None:
        nets = getattr(model, "networks", {})
        self.g1 = self.g2 = self.warper = None
        if "G1" in nets and "G2" in nets:
            self.g1, self.g2 = nets["G1"], nets["G2"]
        elif "G" in nets and getattr(nets["G"], "needs_source_pose", False):
            self.warper = nets["G"]
        else:
            raise PoseInputError("This model file has no pose generators (G1 and G2, or a warping G): it is not a "
                                 "pose model.")
        self.model = model
        self.resolution = int(model.resolution)
        self.pose_channels = int(model.config.get("pose_channels", 18))
        self.device = next((self.g1 or self.warper).parameters()).device
        self._lock = threading.Lock()
        self._prepared: PreparedSource | None = None
        self._heatmaps = HeatmapRenderer(self.resolution, device=self.device) if self.pose_channels == 18 else None

    @property
    def needs_source_pose(self) -> bool:
        """True when the model also needs the photo's own pose (a warping model moves the photo's pixels)."""
        return self.warper is not None

    @property
    def takes_iuv(self) -> bool:
        """True for models conditioned on DensePose IUV images, False for keypoint heatmaps."""
        return self.pose_channels == 3

    def prepare(self, photo: Image.Image) -> PreparedSource:
        """Letterbox ``photo`` and make its tensor, or return the cached one when it is the same image object."""
        from fashionstudio.core.images import pil_to_tensor

        with self._lock:
            if self._prepared is not None and self._prepared.image is photo:
                return self._prepared
        square, box = letterbox(photo, self.resolution)
        prepared = PreparedSource(photo, square, box, pil_to_tensor(square, device=self.device))
        with self._lock:
            self._prepared = prepared
        return prepared

    def condition(self, target: Any, box: Letterbox) -> Any:
        """The pose input tensor [1, P, R, R] for ``target``: a normalised keypoint array or an IUV image
        (PIL image or (H, W, 3) uint8 array in I, U, V order). Raises PoseInputError on a mismatch."""
        import torch

        is_iuv = isinstance(target, Image.Image) or (isinstance(target, np.ndarray) and target.ndim == 3)
        if is_iuv:
            if not self.takes_iuv:
                raise PoseInputError(KEYPOINT_MODEL_GOT_IUV)
            iuv = read_iuv(target) if isinstance(target, Image.Image) else target
            return torch.from_numpy(iuv_condition(iuv, self.resolution)).unsqueeze(0).to(self.device)
        if self.takes_iuv:
            raise PoseInputError(IUV_MODEL_GOT_KEYPOINTS)
        try:
            pose = as_pose(target)
        except ValueError as exc:
            raise PoseInputError(f"The target pose is not an 18-joint skeleton ({exc}).") from None
        if not visible(pose).any():
            raise PoseInputError(EMPTY_POSE)
        assert self._heatmaps is not None
        return self._heatmaps(box.keypoints_to_model(pose))

    def source_condition(self, source_pose: Any, box: Letterbox) -> tuple[Any, list[str]]:
        """Heatmaps [1, 18, R, R] of the photo's own pose (normalised (y, x) in the photo's frame), and notes on
        the limbs it lacks. Raises PoseInputError when it is absent or cannot place the torso."""
        if source_pose is None:
            raise PoseInputError(NO_SOURCE_POSE)
        try:
            pose = as_pose(source_pose)
        except ValueError as exc:
            raise PoseInputError(f"The photo's pose is not an 18-joint skeleton ({exc}).") from None
        ok = visible(pose)
        if not ok.any():
            raise PoseInputError(NO_SOURCE_POSE)
        missing = [name for j, name in _TORSO_JOINTS.items() if not ok[j]]
        if missing:
            raise PoseInputError(SOURCE_TORSO_MISSING.format(joints=" and ".join(missing)))
        absent = [name for j, name in _LIMB_JOINTS.items() if not ok[j]]
        notes = ([f"The photo's pose has no {', '.join(absent)}: those parts are drawn from scratch, not copied "
                  "from the photo."] if absent else [])
        assert self._heatmaps is not None
        return self._heatmaps(box.keypoints_to_model(pose)), notes

    def run(self, photo: Image.Image | PreparedSource, target: Any, source_pose: Any = None) -> PoseResult:
        """The model on ``photo`` (letterboxed) and ``target`` (PGPG: G1 then G2; a warping model also reads
        ``source_pose``, the photo's own pose, normalised (y, x) like the target); results at the photo's aspect."""
        import torch

        from fashionstudio.core.images import tensor_to_pil

        source = photo if isinstance(photo, PreparedSource) else self.prepare(photo)
        pose = self.condition(target, source.letterbox)
        notes: list[str] = []
        with torch.inference_mode():
            if self.warper is not None:
                src_pose, notes = self.source_condition(source_pose, source.letterbox)
                parts = self.warper.parts(source.tensor, src_pose, pose)
                coarse, refined = parts["warped"], parts["output"]
            else:
                coarse = self.g1(source.tensor, pose)
                refined = self.g2(source.tensor, coarse)
        warning = check_generated(refined, getattr(self.model, "name", None))  # NaN raises; a flat picture warns
        if warning:
            notes = [*notes, warning]
        coarse_sq, refined_sq = tensor_to_pil(coarse), tensor_to_pil(refined)
        box = source.letterbox
        return PoseResult(unletterbox(coarse_sq, box), unletterbox(refined_sq, box), coarse_sq, refined_sq, box,
                          notes)


def run_pose_transfer(model: Any, photo: Image.Image, target: Any, source_pose: Any = None) -> PoseResult:
    """One-shot convenience for scripts: ``model`` is a LoadedModel or a model file path."""
    if not hasattr(model, "networks"):
        from fashionstudio.core.modelfile import load_model_file

        model = load_model_file(model)
    return PoseTransfer(model).run(photo, target, source_pose)


__all__ = [
    "EMPTY_POSE", "HeatmapRenderer", "NO_SOURCE_POSE", "SOURCE_TORSO_MISSING", "IUV_MODEL_GOT_KEYPOINTS", "KEYPOINT_MODEL_GOT_IUV", "Letterbox",
    "NUM_KEYPOINTS", "PoseInputError", "PoseResult", "PoseTransfer", "PreparedSource", "STANDARD_FRAME",
    "backdrop_colour", "default_target_pose", "heatmap_sigma", "iuv_condition", "iuv_preview", "letterbox", "normalise_keypoints",
    "pixel_keypoints", "read_iuv", "refit_pose", "run_pose_transfer", "unletterbox",
]
