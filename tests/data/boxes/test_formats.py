import json
import re

import numpy as np
import pytest
from PIL import Image

from nnlab.data.boxes import FORMATS, BoxRecord, BoxSet, convert, detect, read, write
from nnlab.errors import DataError


def _boxset(tmp_path, n=3):
    src = tmp_path / "src"
    src.mkdir()
    records = []
    sizes = [(40, 30), (33, 47), (25, 25)]
    boxes = [[[1, 2, 20.5, 17.25], [0, 0, 40, 30]], [[3.33, 4.67, 30.01, 46.99]], []]
    names = [["cat", "dog"], ["dog"], []]  # the third image has no objects (a negative)
    for i in range(n):
        w, h = sizes[i]
        path = src / f"im{i}.png"
        Image.new("RGB", (w, h), (i * 40, 0, 0)).save(path)
        records.append(BoxRecord(path.name, w, h, np.array(boxes[i]).reshape(-1, 4), names[i], path))
    return BoxSet(records, ["cat", "dog", "bird"])  # "bird" has no boxes: the class list still survives


def _same(a: BoxSet, b: BoxSet):
    assert a.classes == b.classes
    ra, rb = sorted(a.records, key=lambda r: r.file), sorted(b.records, key=lambda r: r.file)
    assert [(r.file, r.width, r.height, r.names) for r in ra] == [(r.file, r.width, r.height, r.names) for r in rb]
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x.boxes, y.boxes)  # to the 1/100 pixel, not just to the pixel


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(tmp_path, fmt):
    original = _boxset(tmp_path)
    write(original, tmp_path / fmt, fmt)
    assert detect(tmp_path / fmt) == fmt
    back = read(tmp_path / fmt)
    _same(original, back)
    assert back.warnings == []


def test_crowd_survives_coco_and_voc_and_voc_filename_without_suffix(tmp_path):
    original = _boxset(tmp_path)
    original.records[0].crowd[1] = True  # COCO iscrowd = VOC difficult
    write(original, tmp_path / "coco", "coco")
    convert(tmp_path / "coco", tmp_path / "voc", "voc")
    back = {r.file: r for r in read(tmp_path / "voc").records}
    assert back["im0.png"].crowd.tolist() == [False, True]
    xml = tmp_path / "voc/annotations/im1.xml"
    xml.write_text(xml.read_text().replace("<filename>im1.png<", "<filename>im1<"))
    assert {r.file for r in read(tmp_path / "voc").records} == {"im0.png", "im1.png", "im2.png"}


def test_chain_through_all_formats(tmp_path):
    original = _boxset(tmp_path)
    write(original, tmp_path / "a", "voc")
    prev = tmp_path / "a"
    for i, fmt in enumerate(["yolo", "kitti", "coco", "voc", "yolo"]):
        convert(prev, tmp_path / f"c{i}", fmt)
        prev = tmp_path / f"c{i}"
    _same(original, read(prev))


def _write(tmp_path, fmt):
    write(_boxset(tmp_path), tmp_path / fmt, fmt)
    return tmp_path / fmt


def _put(name, text):
    return lambda d: (d / name).write_text(text)


KITTI_TAIL = " 0" * 7 + "\n"
BAD = [("voc", _put("annotations/im0.xml", "<annotation><object>"), r"im0\.xml, line 1: malformed XML"),
       ("coco", _put("annotations.json", '{"images": [\n,]}'), r"annotations\.json, line 2: malformed JSON"),
       ("yolo", _put("labels/im1.txt", "1 0.5 0.5 0.2\n"), r"im1\.txt, line 1: expected 5 fields"),
       ("yolo", _put("labels/im1.txt", "\n7 0.5 0.5 0.2 0.2\n"), r"im1\.txt, line 2: class id 7 is outside"),
       ("kitti", _put("labels/im0.txt", "cat 0 0 0 1 2 3\n"), r"im0\.txt, line 1: expected 15 columns"),
       ("kitti", _put("labels/im0.txt", "cat 0.00 0 0.00 9 2 3 8" + KITTI_TAIL), r"im0\.txt, line 1: box .* negative"),
       ("voc", lambda d: (d / "images/im1.png").unlink(), r"im1\.xml: labels an image that does not exist"),
       ("yolo", lambda d: (d / "images/im2.png").unlink(), r"im2\.txt: labels an image that does not exist"),
       ("kitti", _put("labels/im2.txt", "fish 0.00 0 0.00 1 2 3 8" + KITTI_TAIL), r"im2\.png: unknown class")]


@pytest.mark.parametrize("fmt, edit, match", BAD)
def test_bad_input_names_file_and_line(tmp_path, fmt, edit, match):
    folder = _write(tmp_path, fmt)
    edit(folder)
    with pytest.raises(DataError, match=match):
        read(folder, fmt)
    lenient = read(folder, fmt, strict=False)  # nnlab data check: listed, not raised
    assert any(re.search(match, e) for e in lenient.errors)


def test_coco_unknown_category_and_zero_area(tmp_path):
    folder = _write(tmp_path, "coco")
    data = json.loads((folder / "annotations.json").read_text())
    data["annotations"][0]["category_id"] = 99
    (folder / "annotations.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="category_id 99 is not in categories"):
        read(folder)
    data["annotations"][0]["category_id"], data["annotations"][0]["bbox"] = 1, [1, 1, 0, 5]
    (folder / "annotations.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="zero size"):
        read(folder)


def test_empty_dataset_and_unknown_folder(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "classes.txt").write_text("a\n")
    with pytest.raises(DataError, match="empty dataset"):
        read(tmp_path)
    with pytest.raises(DataError, match="holds no box labels"):
        detect(tmp_path / "labels")


def test_failed_write_leaves_nothing(tmp_path):
    boxes = _boxset(tmp_path)
    boxes.records[1].names[0] = "a dog"  # a space cannot be written to KITTI; fails after images were copied
    boxes.classes.append("a dog")
    with pytest.raises(DataError, match="cannot be written to KITTI"):
        write(boxes, tmp_path / "out", "kitti")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["src"]
    with pytest.raises(DataError, match="not empty"):
        write(boxes, tmp_path / "src", "voc")


def test_boxes_outside_clipped_with_warning(tmp_path):
    folder = _write(tmp_path, "kitti")
    (folder / "labels/im0.txt").write_text("cat 0.00 0 0.00 -3 2 45 8" + " 0" * 7 + "\n")
    got = read(folder)
    rec = next(r for r in got.records if r.file == "im0.png")
    np.testing.assert_array_equal(rec.boxes, [[0, 2, 40, 8]])
    assert any("outside the 40x30 image" in w for w in got.warnings)
