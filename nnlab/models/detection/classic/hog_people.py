"""OpenCV's pretrained HOG people detector (Dalal and Triggs' own 64x128 pedestrian SVM,
``cv2.HOGDescriptor_getDefaultPeopleDetector``) wrapped as a detector of one class, ``person`` (label 0): the
reference the trained ``hog_svm`` is compared with. Nothing to train; OpenCV is imported when used."""
from __future__ import annotations

from nnlab.errors import ConfigError
from nnlab.models.detection.classic.base import ClassicDetector, Images, Target, empty_result, image_list, \
    to_uint8_hwc, xywh_result
from nnlab.models.registry import DETECTORS

WINDOW = (64, 128)  # (w, h) of the pedestrian model


class HogPeople(ClassicDetector):
    """``detectMultiScale`` over a pyramid (``scale`` step) with windows ``win_stride`` pixels apart; scores are
    the SVM margins, ``hit_threshold`` the minimum. People smaller than 64x128 px are not found."""

    fit_mode = "pretrained"
    classes = 1

    def __init__(self, win_stride: int = 8, padding: int = 8, scale: float = 1.05, hit_threshold: float = 0.0,
                 iou_threshold: float = 0.3, max_detections: int = 100) -> None:
        super().__init__()
        self.win_stride, self.padding, self.scale, self.hit_threshold = win_stride, padding, scale, hit_threshold
        self.iou_threshold, self.max_detections = iou_threshold, max_detections

    def forward(self, images: Images) -> list[Target]:
        import cv2

        hog = cv2.HOGDescriptor()  # the default 64x128 window, 8x8 cells, 16x16 blocks, 9 bins
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        out = []
        for image in image_list(images):
            if image.shape[1] < WINDOW[1] or image.shape[2] < WINDOW[0]:  # OpenCV crashes on these; none fits
                out.append(empty_result())
                continue
            rects, weights = hog.detectMultiScale(to_uint8_hwc(image), hitThreshold=self.hit_threshold,
                                                  winStride=(self.win_stride, self.win_stride),
                                                  padding=(self.padding, self.padding), scale=self.scale)
            out.append(xywh_result(rects, weights, 0, self.iou_threshold, self.max_detections))
        return out


@DETECTORS.register("hog_people")
def hog_people(*, classes: int = 1, win_stride: int = 8, padding: int = 8, scale: float = 1.05,
               hit_threshold: float = 0.0, iou_threshold: float = 0.3) -> HogPeople:
    """OpenCV's pretrained pedestrian detector (one class: person)."""
    if classes != 1:
        raise ConfigError(f"hog_people detects one class (person), the dataset has {classes}")
    return HogPeople(win_stride, padding, scale, hit_threshold, iou_threshold)
