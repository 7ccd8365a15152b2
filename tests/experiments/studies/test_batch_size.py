import pytest
from study_outcomes import HIGH, LOW, TIE

import nnlab
from nnlab.experiments.studies.batch_size import batch_verdict, sharpness
from nnlab.inference import load_run


def test_sharpness_is_zero_without_perturbation_and_grows_with_it(tiny_config, tmp_path):
    run = load_run(nnlab.fit(tiny_config, runs_root=tmp_path, progress=False).dir, "last")
    assert sharpness(run, epsilon=0.0, directions=2) == pytest.approx(0.0, abs=1e-6)
    small, large = sharpness(run, 0.02, 4), sharpness(run, 0.5, 4)
    assert large > small


@pytest.mark.parametrize("acc, sharp, outcome", [
    ((HIGH, LOW), ([0.1, 0.1, 0.11], [0.5, 0.55, 0.6]), "supported"),
    ((LOW, HIGH), ([0.1, 0.1, 0.11], [0.5, 0.55, 0.6]), "not supported"),
    ((TIE, TIE), ([0.1, 0.1, 0.11], [0.5, 0.55, 0.6]), "inconclusive"),  # equal accuracy: not support
    ((HIGH, LOW), ([0.5, 0.55, 0.6], [0.1, 0.1, 0.11]), "not supported"),  # small batch in the sharper minimum
])
def test_batch_verdict(acc, sharp, outcome):
    small, large = (16, "fixed", None, None, acc[0], sharp[0]), (256, "fixed", None, None, acc[1], sharp[1])
    got, text = batch_verdict(small, large)
    assert got == outcome and f"overall {outcome}" in text
