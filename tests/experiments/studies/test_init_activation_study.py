"""The init/activation study's verdict on synthetic results: vanishing ratios and accuracy together."""
import pytest
from study_outcomes import HIGH, LOW, TIE

from nnlab.experiments.studies.init_activation import init_verdict

VANISH, FLOW = [1e-4, 2e-4, 1e-4], [0.5, 0.6, 0.4]


@pytest.mark.parametrize("sigmoid, relu, outcome", [
    ((LOW, VANISH), (HIGH, FLOW), "supported"),
    ((HIGH, VANISH), (LOW, FLOW), "not supported"),  # gradients vanish, but sigmoid still tests better
    ((LOW, FLOW), (HIGH, FLOW), "not supported"),  # no vanishing at all
    ((TIE, VANISH), (TIE, FLOW), "inconclusive"),  # a tie in accuracy is not support
])
def test_init_verdict(sigmoid, relu, outcome):
    got, text = init_verdict({("sigmoid", "gaussian"): sigmoid, ("relu", "he"): relu})
    assert got == outcome and f"The vanishing-gradient claim is {outcome} here" in text
