"""Batch folders list every entry they leave out, with a reason; HEIC/AVIF/SVG name the format and the fix."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from fashionstudio import cli
from fashionstudio.core.folder_scan import scan_folder
from fashionstudio.core.pipeline_common import list_images
from test_cli import extract_model, run


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


@pytest.fixture
def mixed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(folder / "look.jpg")
    Image.new("RGB", (32, 32), (40, 200, 40)).save(folder / "Flat.PNG")
    (folder / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (folder / "shoe.avif").write_bytes(b"\x00\x00\x00\x1cftypavif")
    (folder / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "notes.txt").write_text("fabric list")
    (folder / ".DS_Store").write_bytes(b"\x00")
    (folder / "older").mkdir()
    (folder / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (folder / "linked.jpg").symlink_to(folder / "look.jpg")  # a link to a picture is read like the picture
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
    return folder


def test_every_entry_is_read_or_listed_with_its_reason(mixed):
    scan = scan_folder(mixed)
    assert [p.name for p in scan.images] == ["Flat.PNG", "linked.jpg", "look.jpg"]
    reasons = dict(scan.skipped)
    assert len(scan.images) + len(scan.skipped) == len(os.listdir(mixed))  # nothing disappears silently
    assert "HEIC photo" in reasons["IMG_0001.HEIC"] and "export it as JPEG" in reasons["IMG_0001.HEIC"]
    assert "AVIF image" in reasons["shoe.avif"] and "convert it to PNG or JPEG" in reasons["shoe.avif"]
    assert "vector drawing (SVG)" in reasons["logo.svg"] and "export it as PNG" in reasons["logo.svg"]
    assert "not a picture FashionStudio reads" in reasons["notes.txt"]
    assert "hidden file" in reasons[".DS_Store"]
    assert "is a folder" in reasons["older"]
    assert "link to" in reasons["gone.jpg"] and "does not exist" in reasons["gone.jpg"]
    if hasattr(os, "mkfifo"):
        assert "named pipe" in reasons["pipe.png"]


def test_a_folder_of_only_heic_photos_says_what_to_do(tmp_path):
    (tmp_path / "a.heic").write_bytes(b"x")
    (tmp_path / "b.heic").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"holds no images.*HEIC photo.*export it as JPEG.*1 more left out"):
        list_images(tmp_path)


def test_cli_batch_counts_and_lists_the_left_out_files_on_stderr(tmp_path, mixed, capsys):
    code = run("extract", str(mixed), str(tmp_path / "out"), "--model",
               str(extract_model(tmp_path / "e.safetensors")))
    captured = capsys.readouterr()
    assert code == cli.EXIT_SKIPPED
    left_out = 8 if hasattr(os, "mkfifo") else 7
    assert f"{left_out} files of {left_out + 3} in the folder left out:" in captured.err
    for name in ("IMG_0001.HEIC", "shoe.avif", "logo.svg", "notes.txt", "gone.jpg", "older", ".DS_Store"):
        assert f"skipped {name}: " in captured.err
    assert "HEIC photo" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Flat.png", "linked.png", "look.png"]
