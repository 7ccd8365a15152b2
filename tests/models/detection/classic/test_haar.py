import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.detection import DETECTORS
from tests.models.detection.classic.conftest import assert_well_formed


@pytest.fixture(scope="module")
def astronaut():
    """scikit-image's astronaut (Eileen Collins) halved: (1, 3, 256, 256) uint8, the face near x 88-136, y 33-80."""
    from skimage.data import astronaut

    return torch.from_numpy(astronaut()).permute(2, 0, 1)[None, :, ::2, ::2].contiguous()


def test_finds_the_face_and_the_eyes_on_a_sample_photo(astronaut):
    det = DETECTORS.build("haar", cascades=["face", "eye"], min_size=10, min_neighbors=3)
    assert det.classes == 2 and det.fit_mode == "pretrained"
    out = det.predict(astronaut)[0]
    assert_well_formed(out, 2)
    faces, eyes = out["boxes"][out["labels"] == 0], out["boxes"][out["labels"] == 1]
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].tolist()
    assert 75 < x1 < 100 and 25 < y1 < 45 and 125 < x2 < 150 and 70 < y2 < 95
    inside = (eyes[:, 0] >= x1) & (eyes[:, 2] <= x2) & (eyes[:, 1] >= y1) & (eyes[:, 3] <= y2)
    assert int(inside.sum()) >= 1


def test_no_face_gives_an_empty_result():
    out = DETECTORS.build("haar").predict(torch.full((2, 1, 64, 64), 128, dtype=torch.uint8))
    for r in out:
        assert_well_formed(r, 1)
        assert len(r["boxes"]) == 0


def test_bad_cascade_names():
    with pytest.raises(ConfigError, match="unknown Haar cascade 'nose'.*face, face_alt"):
        DETECTORS.build("haar", cascades=["nose"])
    with pytest.raises(ConfigError, match="one class per cascade"):
        DETECTORS.build("haar", classes=3, cascades=["face"])
