"""Haar cascades (Viola & Jones 2001; notes: "Haar: 특정 객체를 잘 뽑은 filter", the eye / face detector) as
shipped with OpenCV, wrapped as a detector: label i comes from the i-th cascade. Nothing to train; OpenCV is
imported when used. Scores are the last stage's weights (``detectMultiScale3``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from nnlab.errors import ConfigError
from nnlab.models.detection.classic.base import ClassicDetector, Images, Target, image_list, nms_result, to_gray, \
    to_uint8_hwc, xywh_result
from nnlab.models.registry import DETECTORS

CASCADES = {"face": "haarcascade_frontalface_default.xml", "face_alt": "haarcascade_frontalface_alt.xml",
            "profile_face": "haarcascade_profileface.xml", "eye": "haarcascade_eye.xml",
            "eye_glasses": "haarcascade_eye_tree_eyeglasses.xml", "smile": "haarcascade_smile.xml",
            "full_body": "haarcascade_fullbody.xml", "cat_face": "haarcascade_frontalcatface.xml"}


def cascade_path(name: str) -> str:
    """A short name (``face``, ``eye`` ...), an OpenCV cascade file name or a path to a cascade XML."""
    import cv2

    if name in CASCADES:
        return str(Path(cv2.data.haarcascades) / CASCADES[name])
    for candidate in (Path(cv2.data.haarcascades) / name, Path(name)):
        if candidate.suffix == ".xml" and candidate.is_file():
            return str(candidate)
    raise ConfigError(f"unknown Haar cascade {name!r}: use one of {', '.join(CASCADES)} or a cascade .xml path")


class HaarCascade(ClassicDetector):
    """``cascades`` are run on the grey, histogram-equalized image; windows grow by ``scale_factor`` from
    ``min_size`` and a detection needs ``min_neighbors`` overlapping hits."""

    fit_mode = "pretrained"

    def __init__(self, cascades: Sequence[str] = ("face",), scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: int = 20, equalize: bool = True, iou_threshold: float = 0.3,
                 max_detections: int = 100) -> None:
        super().__init__()
        if not cascades or scale_factor <= 1:
            raise ConfigError("haar needs at least one cascade and a scale_factor above 1")
        self.paths = [cascade_path(c) for c in cascades]  # checked now, loaded when used
        self.classes, self.cascades = len(self.paths), tuple(cascades)
        self.scale_factor, self.min_neighbors, self.min_size, self.equalize = scale_factor, min_neighbors, min_size, \
            equalize
        self.iou_threshold, self.max_detections = iou_threshold, max_detections

    def forward(self, images: Images) -> list[Target]:
        import cv2

        detectors = [cv2.CascadeClassifier(p) for p in self.paths]
        out = []
        for image in image_list(images):
            gray = to_gray(to_uint8_hwc(image))
            if self.equalize:
                gray = cv2.equalizeHist(gray)
            parts = []
            for label, det in enumerate(detectors):
                rects, _, weights = det.detectMultiScale3(gray, scaleFactor=self.scale_factor,
                                                          minNeighbors=self.min_neighbors,
                                                          minSize=(self.min_size, self.min_size),
                                                          outputRejectLevels=True)
                parts.append(xywh_result(rects, weights, label, 1.0, self.max_detections))
            out.append(nms_result(torch.cat([p["boxes"] for p in parts]), torch.cat([p["scores"] for p in parts]),
                                  torch.cat([p["labels"] for p in parts]), self.iou_threshold, self.max_detections))
        return out


@DETECTORS.register("haar")
def haar(*, classes: int | None = None, cascades: Sequence[str] = ("face",), scale_factor: float = 1.1,
         min_neighbors: int = 5, min_size: int = 20, iou_threshold: float = 0.3) -> HaarCascade:
    """OpenCV's pretrained Haar cascades, one class per cascade (``classes``, when given, must match)."""
    if classes is not None and classes != len(cascades):
        raise ConfigError(f"haar gives one class per cascade ({len(cascades)}: {', '.join(cascades)}), "
                          f"the dataset has {classes}")
    return HaarCascade(cascades, scale_factor, min_neighbors, min_size, iou_threshold=iou_threshold)
