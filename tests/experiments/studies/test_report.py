import pytest
import torch

import nnlab
from nnlab.errors import UserError
from nnlab.experiments.studies import STUDIES, StudyContext
from nnlab.experiments.studies.init_activation import layer_grad_norms
from nnlab.experiments.studies.report import StudyReport, Table, all_of, judge, write_markdown


def test_registry_holds_the_claims_lab():
    assert {"batch-size", "optimizers", "search", "init-activation", "ensemble"} <= set(STUDIES.names())
    with pytest.raises(UserError, match="Valid names"):
        STUDIES.get("batchsize")


def test_markdown_report_has_claim_setup_numbers_verdict(tmp_path):
    r = StudyReport("T", "the claim", ["setup line"], [Table("numbers", ["a", "b"], [[1, "2 ± 0.1"]])], "verdict!",
                    [tmp_path / "fig.png"], seconds=3)
    text = write_markdown(r, StudyContext(tmp_path)).read_text()
    for part in ("# T", "**Claim.** the claim", "- setup line", "| 1 | 2 ± 0.1 |", "![fig](fig.png)", "verdict!"):
        assert part in text
    assert "overrides" not in text
    text = write_markdown(r, StudyContext(tmp_path, overrides=["--train.epochs=2"])).read_text()
    assert "- overrides: --train.epochs=2" in text  # the report says what the command line changed


def test_sigmoid_with_small_gaussian_init_vanishes_and_relu_he_does_not():
    """The lesson the init-activation study measures, on one batch of random inputs."""
    x, y = torch.randn(256, 1, 8, 8), torch.randint(0, 10, (256,))
    ratios = {}
    for act, init in (("sigmoid", "gaussian"), ("relu", "he")):
        torch.manual_seed(0)
        g = layer_grad_norms(nnlab.build_model("mlp", 10, 1, (8, 8), hidden=[64] * 6, activation=act, init=init), x, y)
        assert len(g) == 7
        ratios[act] = g[0] / g[-1]
    assert ratios["sigmoid"] < 1e-3 < 0.1 < ratios["relu"]


def test_study_cli_rejects_unknown_names(cli, tmp_path):
    res = cli("study", "nope", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "Valid names" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("higher, lower, outcome", [
    ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], "supported"),
    ([0.80, 0.81, 0.82], [0.90, 0.91, 0.92], "not supported"),
    ([0.85, 0.85, 0.85], [0.85, 0.85, 0.85], "inconclusive"),  # a tie is not support
    ([0.80, 0.90, 0.85], [0.84, 0.86, 0.83], "inconclusive"),  # within the noise
    ([0.99], [0.10], "inconclusive"),  # one repeat cannot separate a difference from noise
])
def test_judge(higher, lower, outcome):
    assert judge(higher, lower) == outcome


def test_all_of():
    assert all_of("supported", "supported") == "supported"
    assert all_of("supported", "inconclusive") == "inconclusive"
    assert all_of("inconclusive", "not supported") == "not supported"
