import numpy as np
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.detection import DETECTORS
from tests.models.detection.classic.conftest import assert_well_formed


def test_boxes_are_opencvs_people_detector_output():
    import cv2
    from skimage.data import astronaut

    image = np.ascontiguousarray(astronaut()[::2, ::2])  # (256, 256, 3): the upper body is one 64x128 window
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rects, weights = hog.detectMultiScale(image, hitThreshold=-1.5, winStride=(8, 8), padding=(8, 8), scale=1.05)
    det = DETECTORS.build("hog_people", hit_threshold=-1.5, iou_threshold=1.0)
    out = det.predict(torch.from_numpy(image).permute(2, 0, 1)[None])[0]
    assert_well_formed(out, 1)
    assert len(out["boxes"]) == len(rects) > 0
    # OpenCV scans the pyramid levels in parallel, so its output order varies from call to call: compare the
    # detections as sets of (box, score) rows, and the detector's own order as scores descending.
    ref = torch.tensor([[x, y, x + w, y + h, s] for (x, y, w, h), s in zip(rects, np.asarray(weights).ravel())],
                       dtype=torch.float32)
    got = torch.cat([out["boxes"], out["scores"][:, None].float()], 1)
    assert bool((out["scores"][:-1] >= out["scores"][1:]).all())
    torch.testing.assert_close(sort_rows(got), sort_rows(ref))


def sort_rows(t: torch.Tensor) -> torch.Tensor:
    """Rows in lexicographic order (the first four columns are integer pixel coordinates, so ties are exact)."""
    for col in reversed(range(t.shape[1])):
        t = t[t[:, col].argsort(stable=True)]
    return t


def test_small_or_empty_images_give_empty_results():
    det = DETECTORS.build("hog_people")
    for r in det.predict(torch.zeros(2, 1, 48, 48, dtype=torch.uint8)):  # smaller than the 64x128 window
        assert_well_formed(r, 1)
        assert len(r["boxes"]) == 0
    with pytest.raises(ConfigError, match="one class"):
        DETECTORS.build("hog_people", classes=2)


@pytest.mark.slow
def test_finds_people_in_penn_fudan_photos():
    """Ten real street photos: the pretrained pedestrian SVM finds at least a third of the people (IoU >= 0.5)."""
    import re

    from PIL import Image
    from torchvision.ops import box_iou

    from tests.conftest import shared_dataset

    root = shared_dataset("pennfudanped")
    det = DETECTORS.build("hog_people")
    found = total = 0
    for f in sorted((root / "Annotation").glob("*.txt"))[::17][:10]:
        text = f.read_text()
        name = re.search(r'Image filename : "PennFudanPed/PNGImages/(.+?)"', text).group(1)
        boxes = torch.tensor([[float(v) for v in m] for m in re.findall(r"\((\d+), (\d+)\) - \((\d+), (\d+)\)", text)])
        image = torch.from_numpy(np.array(Image.open(root / "PNGImages" / name).convert("RGB"))).permute(2, 0, 1)
        out = det.predict(image[None])[0]
        assert_well_formed(out, 1)
        total += len(boxes)
        found += int((box_iou(boxes, out["boxes"]).max(1).values >= 0.5).sum()) if len(out["boxes"]) else 0
    assert total >= 10 and found / total >= 1 / 3
