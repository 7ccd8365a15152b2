"""The ensemble study's verdict on synthetic results."""
import pytest
from study_outcomes import HIGH, LOW, OUTCOMES, TIE

from nnlab.experiments.studies.ensemble import ensemble_verdict


@pytest.mark.parametrize("ensemble, single, outcome", OUTCOMES)
def test_ensemble_verdict(ensemble, single, outcome):
    acc = {"single model": single, "bagging (soft vote)": [a - 0.2 for a in ensemble],
           "average of independent runs": ensemble}
    got, text = ensemble_verdict(acc, 5)
    assert got == outcome and f"That ensembling helps is {outcome} here" in text


def test_the_better_ensemble_is_judged():
    acc = {"single model": TIE, "bagging (soft vote)": HIGH, "average of independent runs": LOW}
    assert ensemble_verdict(acc, 5)[0] == "supported"
