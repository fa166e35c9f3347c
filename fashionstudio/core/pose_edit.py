"""PoseEdit: the state of a skeleton being edited, without Qt (the Pose tab's target and the photo-pose marker).

18 joints (COCO/OpenPose order) as normalised (y, x) in [0, 1] of a frame with the photo's aspect ratio, -1 for a
missing joint (see core.pose_transfer). With mirroring on, the left/right twin of a moved joint follows, reflected
about the neck's vertical line. Every edit is undoable; consecutive moves of one joint can merge into one step.
"""

from __future__ import annotations

import numpy as np

from fashionstudio.core.pose_transfer import default_target_pose, refit_pose
from fashionstudio.core.poses import FLIP_PERMUTATION, KEYPOINT_NAMES, NUM_KEYPOINTS
from fashionstudio.core.undo import UndoStack

MISSING = -1.0
UNDO_LIMIT = 100
NECK = 1  # a joint every pose has, in the middle of the figure: selected first, and the mirror's axis


def joint_label(index: int) -> str:
    """'left elbow' for KEYPOINT_NAMES' 'left_elbow'."""
    return KEYPOINT_NAMES[index].replace("_", " ")


class PoseEdit:
    """An editable pose with undo/redo, a selected joint and mirroring. Methods that change the pose return
    whether they did, so a view knows when to redraw and announce it."""

    def __init__(self, aspect: float = 176 / 256) -> None:
        self.aspect = aspect  # w/h of the frame the pose is normalised to
        self.pose = default_target_pose(aspect)  # (18, 2) float32; callers that keep it take a copy
        self.selected = NECK
        self.mirror = False
        self.history: UndoStack[np.ndarray] = UndoStack(UNDO_LIMIT)
        self._coalesce: int | None = None  # joint whose keyboard/scripted moves merge into one undo step

    def set_pose(self, pose: np.ndarray, *, undoable: bool = True) -> None:
        """Replace the whole pose (library pick, reset, a photo's own pose)."""
        pose = np.asarray(pose, dtype=np.float32).reshape(NUM_KEYPOINTS, 2).copy()
        if undoable:
            self.push_undo()
        self.pose = pose

    def set_aspect(self, aspect: float) -> bool:
        """Match the frame to a new photo's aspect ratio (w/h); the pose and its history are refitted, not
        stretched. False when nothing changed."""
        if aspect <= 0 or abs(aspect - self.aspect) < 1e-6:
            return False
        old = self.aspect
        self.pose = refit_pose(self.pose, old, aspect)
        self.history.transform(lambda p: refit_pose(p, old, aspect))
        self.aspect = aspect
        return True

    def select(self, index: int) -> int:
        """Select joint ``index`` (wrapping around); returns the selected joint."""
        self.selected = int(index) % NUM_KEYPOINTS
        self._coalesce = None
        return self.selected

    def is_missing(self, index: int) -> bool:
        return bool(self.pose[index, 0] < 0)

    def missing_joints(self) -> list[int]:
        return [i for i in range(NUM_KEYPOINTS) if self.is_missing(i)]

    def begin_drag(self, index: int) -> None:
        """A drag of joint ``index`` starts: one undo step for the whole drag, taken before the first move."""
        self.push_undo()
        self._coalesce = None
        self.selected = index

    def move_joint(self, index: int, y: float, x: float, *, coalesce: bool = False) -> None:
        """Put joint ``index`` at normalised (y, x) (clamped to the frame); with ``mirror`` its twin follows.
        ``coalesce`` merges consecutive moves of one joint into a single undo step (arrow keys, scripts)."""
        index = int(index)
        if not 0 <= index < NUM_KEYPOINTS:
            raise IndexError(f"joint index must be 0..17, got {index}")
        if coalesce and self._coalesce != index:
            self.push_undo()
            self._coalesce = index
        self.pose[index] = (float(np.clip(y, 0.0, 1.0)), float(np.clip(x, 0.0, 1.0)))
        if self.mirror:
            self._mirror_twin(index)

    def _mirror_axis(self) -> float:
        return float(self.pose[NECK, 1]) if self.pose[NECK, 1] >= 0 else 0.5  # the neck's line, else the middle

    def _mirror_twin(self, index: int) -> None:
        twin = FLIP_PERMUTATION[index]
        if twin == index:
            return
        y, x = self.pose[index]
        self.pose[twin] = (y, float(np.clip(2 * self._mirror_axis() - x, 0.0, 1.0)))

    def nudge(self, dy: float, dx: float) -> bool:
        """Move the selected joint by (dy, dx) as one coalesced step; False when it is missing."""
        y, x = self.pose[self.selected]
        if y < 0:
            return False
        self.move_joint(self.selected, y + dy, x + dx, coalesce=True)
        return True

    def hide_joint(self, index: int) -> bool:
        """Mark a joint missing (the network then gets an empty heatmap for it)."""
        if self.is_missing(index):
            return False
        self.push_undo()
        self.pose[index] = (MISSING, MISSING)
        return True

    def restore_joint(self, index: int) -> bool:
        """Bring a missing joint back where the standing pose has it (mirrored twin's place if it has one)."""
        if not self.is_missing(index):
            return False
        self.push_undo()
        twin = FLIP_PERMUTATION[index]
        if twin != index and not self.is_missing(twin):
            self.pose[index] = (self.pose[twin, 0], np.clip(2 * self._mirror_axis() - self.pose[twin, 1], 0, 1))
        else:
            self.pose[index] = default_target_pose(self.aspect)[index]
        return True

    # -- undo ------------------------------------------------------------------------------------------------------
    def push_undo(self) -> None:
        self.history.push(self.pose.copy())

    def can_undo(self) -> bool:
        return self.history.can_undo()

    def can_redo(self) -> bool:
        return self.history.can_redo()

    def clear_undo(self) -> None:
        """Forget the undo and redo history (the pose now belongs to another picture)."""
        self.history.clear()
        self._coalesce = None

    def undo(self) -> bool:
        """Go back one pose edit (a whole drag is one edit). False when there is nothing to undo."""
        return self._step(self.history.undo(self.pose.copy()))

    def redo(self) -> bool:
        return self._step(self.history.redo(self.pose.copy()))

    def _step(self, pose: np.ndarray | None) -> bool:
        if pose is None:
            return False
        self.pose = pose
        self._coalesce = None
        return True
