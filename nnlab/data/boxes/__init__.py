"""Box datasets: one in-memory record form, read from and written to Pascal VOC, COCO, YOLO and KITTI."""
from nnlab.data.boxes.formats import FORMATS, check, convert, detect, read, write, write_labels
from nnlab.data.boxes.records import BoxRecord, BoxSet

__all__ = ["FORMATS", "BoxRecord", "BoxSet", "check", "convert", "detect", "read", "write", "write_labels"]
