import pytest
from study_outcomes import HIGH, OUTCOMES

from nnlab.experiments.studies import STUDIES, StudyContext
from nnlab.experiments.studies.transfer import MODES, run_transfer, transfer_config, transfer_verdict


def test_registered_and_configs_select_the_target_classes():
    assert "transfer" in STUDIES.names()
    cfg = transfer_config("x", {"dataset": "digits"}, "lenet5", 1, 5, 10, [5, 6, 7, 8, 9], freeze=["features"])
    assert cfg["data"]["classes"] == [5, 6, 7, 8, 9] and cfg["data"]["train_size"] == 50
    assert cfg["model"] == {"name": "lenet5", "freeze": ["features"]}


@pytest.mark.slow
def test_transfer_runs_every_mode_on_digits(tmp_path):
    rows, acc, pre = run_transfer(StudyContext(tmp_path, log=lambda s: None), {"dataset": "digits"}, "resnet20",
                                  (5,), pre_epochs=1, steps=8, repeats=1)
    assert pre > 0.5 and set(acc) == {(m, 5) for m in MODES} and len(rows) == 1
    assert all(0 <= a[0] <= 1 for a in acc.values())


@pytest.mark.parametrize("pretrained, scratch, outcome", OUTCOMES)
def test_transfer_verdict(pretrained, scratch, outcome):
    shots = (10, 200)
    acc = {("scratch", 10): scratch, ("frozen + new head", 10): [a - 0.3 for a in pretrained],
           ("fine-tune", 10): pretrained, **{(m, 200): HIGH for m in MODES}}
    got, text = transfer_verdict(acc, shots)
    assert got == outcome and f"help with few labels: {outcome} here" in text
