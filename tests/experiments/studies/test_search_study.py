"""The grid-vs-random study's verdict on synthetic results (a tie is not support)."""
import pytest
from study_outcomes import OUTCOMES

from nnlab.experiments.studies.search import search_verdict


@pytest.mark.parametrize("random, grid, outcome", OUTCOMES)
def test_search_verdict(random, grid, outcome):
    got, text = search_verdict({"random": random, "grid": grid}, {"random": [9, 9, 9], "grid": [3, 3, 3]}, 3)
    assert got == outcome and f"The claim is {outcome} here" in text
