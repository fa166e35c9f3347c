"""Pose CSVs are user input: every malformed file ends in PoseFormatError naming the file and line; and a CSV's
pixel keypoints are read in their own frame (declared, from an image beside it, or inferred from all its rows),
so the atelier's 64 px annotations are no longer squashed into the top-left corner of a 256 x 176 frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionstudio import cli
from fashionstudio.core.pose_frame import csv_frame, infer_frame
from fashionstudio.core.poses import (CSV_HEADER, PoseFormatError, read_pose_csv, read_pose_csv_with_frame,
                                      scale_keypoints, write_pose_csv)
from fashionstudio.core.resources import resource_path

ROW_Y = [40, 60, 62, 100, 130, 62, 100, 130, 130, 180, 230, 130, 180, 230, 35, 35, 38, 38]
ROW_X = [88, 88, 66, 58, 54, 110, 118, 122, 75, 73, 72, 101, 103, 104, 83, 93, 77, 99]


def _csv(tmp_path: Path, body: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(f"{CSV_HEADER}\n{body}\n", encoding="utf-8")
    return path


def _list(value: str, n: int = 18) -> str:
    return "[" + ", ".join([value] * n) + "]"


@pytest.mark.parametrize("ys, expected", [
    (_list('"a"'), "not a number"),
    (_list("true"), "not a number"),
    (_list("NaN"), "not lists of numbers"),
    (_list("1e999"), "not lists of numbers"),
    (_list("1e30"), "not a pixel position"),
    (_list("[1]"), "not a number"),
    (_list("1", 17), "needs 18"),
    ("[" * 1000, "not lists of numbers"),
    ("{}", "needs 18"),
])
def test_malformed_rows_name_the_file_and_line(tmp_path, ys, expected):
    path = _csv(tmp_path, f"ok.jpg: {ROW_Y}: {ROW_X}\nbad.jpg: {ys}: {ROW_X}")
    with pytest.raises(PoseFormatError, match=expected) as info:
        read_pose_csv(path)
    assert f"{path}:3" in str(info.value)


def test_unreadable_files_are_pose_format_errors(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(PoseFormatError, match="not a text file"):
        read_pose_csv(binary)
    with pytest.raises(PoseFormatError, match="not found"):
        read_pose_csv(tmp_path / "missing.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(PoseFormatError, match="not a file"):
        read_pose_csv(tmp_path / "folder.csv")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(PoseFormatError, match="header"):
        read_pose_csv(tmp_path / "x.csv")


def test_a_byte_order_mark_and_comment_lines_are_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text(f"\ufeff{CSV_HEADER}\n# made by hand\nrow.jpg: {ROW_Y}: {ROW_X}\n", encoding="utf-8")
    rows, frame = read_pose_csv_with_frame(path)
    assert list(rows) == ["row.jpg"] and frame is None


def _atelier_rows(size: int) -> dict[str, np.ndarray]:
    """The library's poses (a 256 px frame) at the atelier's ``size`` px, as its In-shop annotations are."""
    library = read_pose_csv(resource_path("poses", "poses.csv"))
    return {f"fashionWOMENDressesid{i:08d}01_1front.jpg": scale_keypoints(kp, (256, 256), (size, size))
            for i, kp in enumerate(library.values())}


def test_atelier_64px_annotations_are_read_in_their_own_frame(tmp_path):
    path = tmp_path / "fasion-resize-annotation-test.csv"
    write_pose_csv(path, _atelier_rows(64))
    rows = read_pose_csv(path)
    assert csv_frame(path, rows) == ((64, 64), "inferred")
    name, kp, frame = cli._read_target_pose(str(path))
    assert frame == (64, 64)
    ankles = kp[[10, 13], 0] / frame[0]
    assert ankles.max() > 0.8  # the feet are near the bottom of the frame, not a quarter of the way down


def test_declared_frame_wins_and_round_trips(tmp_path):
    path = tmp_path / "declared.csv"
    write_pose_csv(path, _atelier_rows(64), frame=(64, 48))
    rows, frame = read_pose_csv_with_frame(path)
    assert frame == (64, 48) and len(rows) == 12
    assert cli._read_target_pose(str(path))[2] == (64, 48)


def test_an_image_beside_the_csv_gives_the_frame(tmp_path):
    path = _csv(tmp_path, f"row.jpg: {ROW_Y}: {ROW_X}")
    assert csv_frame(path, read_pose_csv(path)) == ((256, 176), "inferred")
    Image.new("RGB", (88, 128)).save(tmp_path / "row.png")  # half size: its aspect, scaled to hold the joints
    assert csv_frame(path, read_pose_csv(path)) == ((256, 176), "image")
    Image.new("RGB", (300, 400)).save(tmp_path / "row.png")  # the real picture: its own size
    assert csv_frame(path, read_pose_csv(path)) == ((400, 300), "image")


def test_the_shipped_library_keeps_its_256_square_frame():
    path = resource_path("poses", "poses.csv")
    assert csv_frame(path, read_pose_csv(path))[0] == (256, 256)


def test_inferred_frames():
    assert infer_frame([np.full((18, 2), -1.0)]) == (256, 176)
    assert infer_frame([np.array([[120.0, 60.0]] * 18)]) == (128, 64)
    assert infer_frame([np.array([[250.0, 170.0]] * 18)]) == (256, 176)
    assert infer_frame([np.array([[2000.0, 100.0]] * 18)]) == (2161, 109)
