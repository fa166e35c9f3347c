"""Does an input look like what the model learned from? Statistics, a score and a calibrated threshold.

Every model file may carry, for each kind of input it takes (a person photo for Pose and Extract, a shoe or a bag
for Match, a picture to project for Generate), the statistics of its training inputs in the atelier feature
space (:mod:`fashionstudio.models.atelier_features`): the feature mean and a whitening matrix of a shrunk
covariance. An input's score is its Mahalanobis distance to that mean; above the stored threshold (calibrated on
held-out inputs of the right kind at export) the input is "unfamiliar" and the app says so.

Where the statistics come from, in order: the model file's own header entry ``"fashionstudio_familiarity"``
(written by ``python -m training export``), or a sidecar ``<model>.familiarity.json`` beside the file whose
recorded model checksum matches (for files exported before this existed). Anything else: "unknown", and the
app shows no banner. Both are JSON with base64 float32 arrays: reading them never executes code. Qt-free.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fashionstudio.core import registry

FORMAT = "fashionstudio-familiarity"
FORMAT_VERSION = 1
HEADER_KEY = "fashionstudio_familiarity"   # safetensors header metadata entry beside "fashionstudio"
SIDECAR_SUFFIX = ".familiarity.json"
MAX_SIDECAR_BYTES = 16 * 1024 * 1024        # four roles of 160-d statistics take about 0.6 MB
PASS_QUANTILE = 0.995                       # of out-of-sample training-kind scores: the threshold's quantile
THRESHOLD_MARGIN = 1.05                     # fresh data from another seed sits slightly further out

_KIND_WORDS = {
    "inshop": "each person photographed in several poses",
    "lookbook": "photos of people wearing a garment, with its product shot",
    "shoes_bags": "shoes and handbags photographed alone",
    "images": "your own pictures",
}
# What an atelier-trained model saw, in a designer's words.
ATELIER_WORDS = {
    "person": "synthetic mannequins on a plain studio backdrop",
    "shoe": "synthetic studio shoes on white",
    "bag": "synthetic studio handbags on white",
    "image": "synthetic mannequins on a plain studio backdrop",
}


class FamiliarityError(ValueError):
    """Statistics that cannot be read; the message says which file and why."""


# -- statistics ------------------------------------------------------------------------------------------------

def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def _unb64(text: str, shape: tuple[int, ...]) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    arr = np.frombuffer(raw, dtype="<f4")
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"expected {int(np.prod(shape))} numbers, found {arr.size}")
    return arr.reshape(shape).astype(np.float64)


def ledoit_wolf_shrinkage(x: np.ndarray) -> float:
    """The Ledoit-Wolf weight a in [0, 1] of the scaled identity in ``(1-a) S + a (tr S / d) I`` for the centred
    rows ``x``: the sample covariance of 160 features from a few hundred images is too noisy to invert as is."""
    n, d = x.shape
    s = x.T @ x / n
    mu = np.trace(s) / d
    delta = float(np.sum((s - mu * np.eye(d)) ** 2))
    if delta <= 0:
        return 1.0
    sq = np.sum(x * x, axis=1)
    # sum_k ||x_k x_k^T - S||_F^2 = sum_k (|x_k|^4 - 2 x_k^T S x_k) + n ||S||_F^2
    quad = np.einsum("ij,jk,ik->i", x, s, x)
    beta = float(np.sum(sq ** 2 - 2 * quad) + n * np.sum(s * s)) / n ** 2
    return float(min(1.0, max(0.0, beta / delta)))


@dataclass
class ReferenceStats:
    """One kind of input as the model saw it in training: feature mean, whitening matrix, threshold."""

    mean: np.ndarray                 # (d,)
    whitener: np.ndarray             # (d, d): |W (f - mean)| is the Mahalanobis distance
    threshold: float = float("inf")  # set by fit_calibrated
    n: int = 0                       # training inputs the statistics come from
    shrinkage: float = 0.0
    learned_from: str = ""           # a designer's words for the training pictures
    calibration: dict[str, Any] = field(default_factory=dict)  # held-out count and pass rate at export

    @classmethod
    def fit(cls, features: np.ndarray, learned_from: str = "") -> "ReferenceStats":
        """Mean and shrunk-covariance whitener of ``features`` (n, d); :meth:`fit_calibrated` sets the threshold."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or len(f) < 2:
            raise ValueError("at least two feature vectors are needed to describe a training set")
        mean = f.mean(axis=0)
        x = f - mean
        a = ledoit_wolf_shrinkage(x)
        s = x.T @ x / len(x)
        cov = (1 - a) * s + a * (np.trace(s) / s.shape[0]) * np.eye(s.shape[0])
        vals, vecs = np.linalg.eigh(cov)
        vals = np.maximum(vals, vals.max() * 1e-9)
        return cls(mean=mean, whitener=(vecs / np.sqrt(vals)).T, n=len(f), shrinkage=a, learned_from=learned_from)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (n, d) to the training mean."""
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        return np.linalg.norm((f - self.mean) @ self.whitener.T, axis=1)

    @classmethod
    def fit_calibrated(cls, features: np.ndarray, held_out: np.ndarray, learned_from: str = "", folds: int = 5,
                       quantile: float = PASS_QUANTILE, margin: float = THRESHOLD_MARGIN) -> "ReferenceStats":
        """Fit on ``features`` and set the threshold from out-of-sample scores: the held-out inputs under the full
        fit, pooled with every training input scored by a fit on the other ``folds - 1`` folds (a held-out split
        of a few dozen images alone is too small a sample of the tail to set the threshold)."""
        f, h = np.asarray(features, dtype=np.float64), np.asarray(held_out, dtype=np.float64)
        ref = cls.fit(f, learned_from)
        scores = [ref.score(h)] if len(h) else []
        crossed = 0
        if folds > 1 and len(f) >= 4 * folds:
            order = np.random.default_rng(0).permutation(len(f))
            for part in np.array_split(order, folds):
                keep = np.ones(len(f), dtype=bool)
                keep[part] = False
                scores.append(cls.fit(f[keep]).score(f[part]))
            crossed = len(f)
        if not scores:
            raise ValueError("no held-out inputs to calibrate the threshold on")
        pooled = np.concatenate(scores)
        ref.threshold = float(np.quantile(pooled, quantile) * margin)
        ref.calibration = {"held_out": int(len(h)), "cross_fitted": crossed, "quantile": quantile, "margin": margin,
                           "pass": round(float(np.mean(pooled <= ref.threshold)), 4)}
        return ref

    def to_json(self) -> dict[str, Any]:
        d = int(self.mean.shape[0])
        return {"dim": d, "mean": _b64(self.mean), "whitener": _b64(self.whitener), "threshold": self.threshold,
                "n": self.n, "shrinkage": round(self.shrinkage, 6), "learned_from": self.learned_from,
                "calibration": self.calibration}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ReferenceStats":
        d = int(data["dim"])
        return cls(mean=_unb64(data["mean"], (d,)), whitener=_unb64(data["whitener"], (d, d)),
                   threshold=float(data["threshold"]), n=int(data.get("n", 0)),
                   shrinkage=float(data.get("shrinkage", 0.0)), learned_from=str(data.get("learned_from", "")),
                   calibration=dict(data.get("calibration") or {}))


@dataclass
class FamiliarityStats:
    """The statistics of every input role of one model, and the feature network they were measured with."""

    family: str
    roles: dict[str, ReferenceStats]
    features_sha256: str
    model_sha256: str | None = None   # sidecars only: the model file they describe

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "family": self.family,
                               "features": {"extractor": "atelier", "sha256": self.features_sha256},
                               "roles": {k: v.to_json() for k, v in self.roles.items()}}
        if self.model_sha256:
            out["model_sha256"] = self.model_sha256
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def from_json(cls, data: Any, source: str) -> "FamiliarityStats":
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not FashionStudio familiarity statistics")
            if int(data.get("format_version", 0)) > FORMAT_VERSION:
                raise ValueError("written by a newer FashionStudio")
            roles = {str(k): ReferenceStats.from_json(v) for k, v in data["roles"].items()}
            return cls(family=str(data["family"]), roles=roles, features_sha256=str(data["features"]["sha256"]),
                       model_sha256=data.get("model_sha256"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FamiliarityError(f"The familiarity statistics in {source} cannot be read ({exc}).") from None


# -- where a model's statistics are ------------------------------------------------------------------------------

def sidecar_path(model_path: str | Path) -> Path:
    """``resources/models/extract.safetensors`` -> ``resources/models/extract.familiarity.json``."""
    p = Path(model_path)
    return p.with_name(p.name[: -len(p.suffix)] + SIDECAR_SUFFIX if p.suffix else p.name + SIDECAR_SUFFIX)


def read_header_stats(model_path: str | Path) -> FamiliarityStats | None:
    """The statistics stored in a model file's own header, or None when it has none."""
    from safetensors import safe_open

    path = Path(model_path)
    try:
        with safe_open(str(path), framework="np") as f:
            raw = (f.metadata() or {}).get(HEADER_KEY)
    except Exception as exc:  # safetensors' own error types for foreign files
        raise FamiliarityError(f"'{path.name}' has no readable header ({exc}).") from None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FamiliarityError(f"The familiarity statistics in '{path.name}' are damaged ({exc.msg}).") from None
    return FamiliarityStats.from_json(data, f"'{path.name}'")


def find_stats(model_path: str | Path, model_sha256: str) -> tuple[FamiliarityStats | None, str]:
    """The statistics for a model file and where they came from ("file", "sidecar"), or (None, why not)."""
    stats = read_header_stats(model_path)
    if stats is not None:
        return stats, "file"
    side = sidecar_path(model_path)
    if not side.is_file():
        return None, "it carries no statistics of its training pictures"
    if side.stat().st_size > MAX_SIDECAR_BYTES:
        raise FamiliarityError(f"'{side.name}' is too large to be familiarity statistics.")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FamiliarityError(f"'{side.name}' cannot be read ({exc}).") from None
    stats = FamiliarityStats.from_json(data, f"'{side.name}'")
    if stats.model_sha256 != model_sha256:
        return None, f"'{side.name}' describes another version of this model file"
    return stats, "sidecar"


# -- features of pictures -----------------------------------------------------------------------------------------

def default_features_path() -> Path:
    from fashionstudio.core.resources import resource_path

    return resource_path("features", "atelier_features.safetensors")


class FeatureNet:
    """The atelier embedding of PIL pictures, letterboxed as the tools letterbox them. Thread-safe."""

    def __init__(self, path: str | Path | None = None) -> None:
        from fashionstudio.core.modelfile import file_sha256
        from fashionstudio.models.atelier_features import INPUT_SIZE, load_atelier

        self.path = Path(path) if path else default_features_path()
        self.net, _ = load_atelier(self.path)
        self.sha256 = file_sha256(self.path)
        self.dim = int(self.net.dim)
        self.size = INPUT_SIZE
        self._lock = threading.Lock()

    def tensor_features(self, images: Any) -> np.ndarray:
        """Features (n, d) of a float tensor batch (n, 3, H, W) in [-1, 1] (training data)."""
        import torch

        with self._lock, torch.no_grad():
            return self.net.embed(images.float().cpu()).double().numpy()

    def features(self, pictures: list[Image.Image]) -> np.ndarray:
        """Features (n, d) of PIL pictures of any size (letterboxed onto a square on their own backdrop)."""
        import torch

        from fashionstudio.core.images import pil_to_tensor
        from fashionstudio.core.letterbox import letterbox

        batch = torch.cat([pil_to_tensor(letterbox(p, self.size)[0]) for p in pictures])
        return self.tensor_features(batch)


_shared: dict[str, FeatureNet] = {}
_shared_lock = threading.Lock()


def shared_feature_net() -> FeatureNet:
    """One FeatureNet per process (the app's tabs and the CLI share it; loading takes a fraction of a second)."""
    with _shared_lock:
        if "net" not in _shared:
            _shared["net"] = FeatureNet()
        return _shared["net"]


# -- verdicts -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """How familiar one input is to one model: "familiar", "unfamiliar" or "unknown" (no statistics)."""

    status: str
    role: str = ""
    score: float | None = None
    threshold: float | None = None
    message: str = ""

    @property
    def unfamiliar(self) -> bool:
        return self.status == "unfamiliar"

    def provenance(self) -> dict[str, Any]:
        """The flag an output's provenance carries."""
        out: dict[str, Any] = {"status": self.status, "role": self.role}
        if self.score is not None:
            out.update(score=round(self.score, 3), threshold=round(float(self.threshold or 0), 3))
        return out


def unfamiliar_message(family: str, learned_from: str) -> str:
    """The banner's sentence: what the model learned from, what that means, how to get a model for such photos."""
    from fashionstudio.core.runs import DATA_KIND_LABELS  # the New-run dialog's words for the dataset kinds

    declared = registry.family(family) if family in registry.known_families() else None
    kind = (declared.atelier_kind if declared else None) or "images"  # what to train on for such photos
    what = learned_from or "its training pictures"
    model = f"Model \u201c{declared.label}\u201d, " if declared and declared.label else ""
    # "picture", not the role: a person dropped on Match's shoe side is no shoe.
    return (f"This picture is unlike what the model learned from ({what}), so the result will not look like "
            f"it. To work on photos like this one, train a model on such photos: Train tab, New run, {model}"
            f"Data \u201c{DATA_KIND_LABELS.get(kind, kind)}\u201d ({_KIND_WORDS.get(kind, kind)}).")


class FamiliarityChecker:
    """Scores inputs for one loaded model. ``check(picture, role)`` -> :class:`Verdict`; thread-safe."""

    def __init__(self, model_path: str | Path, model_sha256: str, family: str,
                 features: FeatureNet | None = None) -> None:
        self.family = family
        self.note = ""
        self.stats: FamiliarityStats | None = None
        self._features = features
        try:
            stats, source = find_stats(model_path, model_sha256)
        except FamiliarityError as exc:
            stats, source = None, str(exc)
        if stats is not None and features is not None and stats.features_sha256 != features.sha256:
            stats, source = None, "its statistics were measured with another feature network"
        if stats is not None and not all(_usable(ref, getattr(features, "dim", None)) for ref in stats.roles.values()):
            stats, source = None, "its statistics are damaged (wrong size or not finite)"
        self.stats, self.source = stats, source if stats is not None else "none"
        if stats is None:
            self.note = f"Unfamiliar pictures are not detected for this model: {source}."

    @classmethod
    def for_model(cls, model: Any, features: FeatureNet | None = None) -> "FamiliarityChecker":
        """A checker for a :class:`~fashionstudio.core.modelfile.LoadedModel` (the shared feature net by default;
        a missing feature network makes every verdict "unknown")."""
        if features is None:
            try:
                features = shared_feature_net()
            except Exception as exc:  # noqa: BLE001 - a broken feature file must not stop a tool
                checker = cls(model.path, model.sha256, model.family, None)
                checker.stats, checker.note = None, f"Unfamiliar pictures are not detected: {exc}"
                return checker
        return cls(model.path, model.sha256, model.family, features)

    @property
    def known(self) -> bool:
        return self.stats is not None and self._features is not None

    def default_role(self) -> str:
        roles = registry.family(self.family).role_names if self.family in registry.known_families() else ()
        return roles[0] if roles else "person"  # the input role the family's tool scores first

    def check(self, picture: Image.Image, role: str | None = None) -> Verdict:
        role = role or self.default_role()
        if not self.known or role not in self.stats.roles:  # type: ignore[union-attr]
            return Verdict("unknown", role, message=self.note)
        ref = self.stats.roles[role]  # type: ignore[union-attr]
        score = float(ref.score(self._features.features([picture]))[0])  # type: ignore[union-attr]
        if score <= ref.threshold:
            return Verdict("familiar", role, score, ref.threshold)
        return Verdict("unfamiliar", role, score, ref.threshold, unfamiliar_message(self.family, ref.learned_from))


def _usable(ref: ReferenceStats, dim: int | None) -> bool:
    """Statistics a score can be computed with: the feature network's size, finite numbers."""
    d = ref.mean.shape[0]
    return ((dim is None or d == dim) and ref.whitener.shape == (d, d) and bool(np.isfinite(ref.mean).all())
            and bool(np.isfinite(ref.whitener).all()) and bool(np.isfinite(ref.threshold)))


_checkers: dict[tuple[str, str], FamiliarityChecker] = {}


def checker_for(model: Any) -> FamiliarityChecker:
    """The (cached) checker of a loaded model, keyed by its file and checksum. Call off the GUI thread: the first
    call loads the feature network."""
    key = (str(model.path), str(model.sha256))
    with _shared_lock:
        found = _checkers.get(key)
    if found is None:
        found = FamiliarityChecker.for_model(model)
        with _shared_lock:
            _checkers[key] = found
    return found
