"""Box datasets: one in-memory record form, read from and written to Pascal VOC, COCO, YOLO and KITTI; the
in-memory ``BoxDataset``, its sources (folders, raccoon, digit scenes) and box-aware augmentation."""
from nnlab.data.boxes.augment import BoxAugment
from nnlab.data.boxes.dataset import BoxDataset, load_box_folder, raccoon
from nnlab.data.boxes.formats import FORMATS, check, convert, detect, read, write, write_labels
from nnlab.data.boxes.records import BoxRecord, BoxSet
from nnlab.data.boxes.scenes import Scenes, generate_scenes, write_scenes
from nnlab.data.boxes.sources import BOX_DATASETS, load_box_splits

__all__ = ["BOX_DATASETS", "FORMATS", "BoxAugment", "BoxDataset", "BoxRecord", "BoxSet", "Scenes", "check",
           "convert", "detect", "generate_scenes", "load_box_folder", "load_box_splits", "raccoon", "read", "write",
           "write_labels", "write_scenes"]
