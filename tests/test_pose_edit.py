"""The skeleton-editing state without Qt (core.pose_edit, core.undo): moves, mirroring, hiding, undo/redo and the
refit when the photo's aspect changes."""

from __future__ import annotations

import numpy as np
import pytest

from fashionstudio.core.pose_edit import NECK, PoseEdit, joint_label
from fashionstudio.core.pose_transfer import default_target_pose, refit_pose
from fashionstudio.core.poses import FLIP_PERMUTATION
from fashionstudio.core.undo import UndoStack

R_WRIST, L_WRIST = 4, 7


def test_undo_stack_is_bounded_and_a_push_ends_the_redo_branch():
    stack: UndoStack[int] = UndoStack(3)
    for state in range(5):
        stack.push(state)
    assert len(stack) == 3
    assert stack.undo(5) == 4 and stack.undo(4) == 3 and stack.undo(3) == 2 and stack.undo(2) is None
    assert stack.redo(2) == 3 and stack.can_redo()
    stack.push(9)
    assert not stack.can_redo() and stack.pop() == 9 and stack.pop() == 2 and stack.pop() is None
    with pytest.raises(ValueError, match="at least one"):
        UndoStack(0)


def test_a_move_is_clamped_to_the_frame_and_undoes_in_one_step_when_coalesced():
    edit = PoseEdit()
    start = edit.pose.copy()
    edit.move_joint(R_WRIST, 0.3, 0.2, coalesce=True)
    edit.move_joint(R_WRIST, 1.7, -0.4, coalesce=True)
    assert edit.pose[R_WRIST].tolist() == [1.0, 0.0]
    assert edit.undo() and np.array_equal(edit.pose, start) and not edit.undo()
    assert edit.redo() and edit.pose[R_WRIST].tolist() == [1.0, 0.0]
    with pytest.raises(IndexError, match="0..17"):
        edit.move_joint(18, 0.5, 0.5)


def test_a_drag_is_one_undo_step_and_selects_the_joint():
    edit = PoseEdit()
    start = edit.pose.copy()
    edit.begin_drag(L_WRIST)
    for x in (0.6, 0.7, 0.8):
        edit.move_joint(L_WRIST, 0.5, x)
    assert edit.selected == L_WRIST
    assert edit.undo() and np.array_equal(edit.pose, start)


def test_mirroring_reflects_the_twin_about_the_neck():
    edit = PoseEdit()
    edit.mirror = True
    neck_x = float(edit.pose[NECK, 1])
    edit.move_joint(R_WRIST, 0.4, neck_x - 0.2)
    twin = FLIP_PERMUTATION[R_WRIST]
    assert twin == L_WRIST
    assert edit.pose[twin].tolist() == pytest.approx([0.4, neck_x + 0.2])


def test_hiding_and_restoring_a_joint():
    edit = PoseEdit()
    edit.mirror = False
    assert edit.hide_joint(R_WRIST) and edit.is_missing(R_WRIST) and edit.missing_joints() == [R_WRIST]
    assert not edit.hide_joint(R_WRIST)  # already hidden: no second undo step
    assert edit.restore_joint(R_WRIST) and not edit.is_missing(R_WRIST)
    axis = float(edit.pose[NECK, 1])  # it comes back as the mirror image of its twin
    assert edit.pose[R_WRIST].tolist() == pytest.approx([edit.pose[L_WRIST, 0], 2 * axis - edit.pose[L_WRIST, 1]])
    assert edit.undo() and edit.is_missing(R_WRIST) and edit.undo() and not edit.is_missing(R_WRIST)
    edit.select(R_WRIST)
    edit.hide_joint(R_WRIST)
    assert not edit.nudge(0.1, 0.1) and edit.is_missing(R_WRIST)  # a hidden joint is not moved by the arrows


def test_a_new_aspect_refits_the_pose_and_its_history():
    edit = PoseEdit(aspect=0.5)
    edit.set_pose(default_target_pose(0.5))
    before = edit.pose.copy()
    edit.move_joint(R_WRIST, 0.2, 0.1)
    assert edit.set_aspect(1.0) and not edit.set_aspect(1.0)
    assert edit.aspect == 1.0
    assert edit.undo()
    assert np.allclose(edit.pose, refit_pose(before, 0.5, 1.0))


def test_selection_wraps_and_nudge_moves_the_selected_joint():
    edit = PoseEdit()
    assert edit.select(-1) == 17 and edit.select(18) == 0
    edit.select(R_WRIST)
    y, x = edit.pose[R_WRIST]
    assert edit.nudge(0.01, -0.01) and edit.nudge(0.01, -0.01)
    assert edit.pose[R_WRIST].tolist() == pytest.approx([y + 0.02, x - 0.02])
    assert edit.undo() and edit.pose[R_WRIST].tolist() == pytest.approx([y, x])  # both nudges were one step
    assert joint_label(R_WRIST) == "right wrist"
