import pytest

import nnlab
from nnlab.experiments.studies.batch_size import sharpness
from nnlab.inference import load_run


def test_sharpness_is_zero_without_perturbation_and_grows_with_it(tiny_config, tmp_path):
    run = load_run(nnlab.fit(tiny_config, runs_root=tmp_path, progress=False).dir, "last")
    assert sharpness(run, epsilon=0.0, directions=2) == pytest.approx(0.0, abs=1e-6)
    small, large = sharpness(run, 0.02, 4), sharpness(run, 0.5, 4)
    assert large > small
