"""nnlab predict on hostile images: one clear message, no traceback."""
import pytest

from tests.cli.test_train_cli import _fails, main
from tests.conftest import huge_png
from tests.deploy.runs import make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("predict_cli"), "mlp")


def test_predict_on_a_30000x30000_image_is_one_clear_message(run_dir, tmp_path):
    bomb = huge_png(tmp_path / "bomb.png", 30000, 30000)
    r = main("predict", str(run_dir), str(bomb))
    _fails(r, "bomb.png claims 900.0 megapixels", "decoding limit of 50 megapixels", "NNLAB_MAX_IMAGE_PIXELS")
    assert "Traceback" not in r.stderr and r.stdout == ""
