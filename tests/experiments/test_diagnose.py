import numpy as np
import pytest

from nnlab.errors import UserError
from nnlab.experiments.diagnose import diagnose, diagnose_run

E = np.arange(1, 21)


def _curves(acc, val_acc, val_loss):
    return {"epoch": E.astype(float), "loss": 1 - np.asarray(acc), "acc": np.asarray(acc),
            "val_loss": np.asarray(val_loss), "val_acc": np.asarray(val_acc)}


CASES = {
    # train and val both low and close: the model cannot fit
    "underfitting": _curves(0.5 + 0.2 * (1 - np.exp(-E / 5)), 0.49 + 0.2 * (1 - np.exp(-E / 5)),
                            1.5 - 0.3 * (1 - np.exp(-E / 5))),
    # high and close, val loss flat at its minimum
    "good fit": _curves(0.97 - 0.3 * np.exp(-E / 3), 0.96 - 0.3 * np.exp(-E / 3), 0.1 + 0.5 * np.exp(-E / 3)),
    # val follows train with a small, steady gap
    "overfitting a little": _curves(0.99 - 0.3 * np.exp(-E / 3), 0.93 - 0.3 * np.exp(-E / 3),
                                    0.25 + 0.5 * np.exp(-E / 3)),
    # train -> 100%, val peaks at epoch 6 and then falls, val loss U-shaped
    "overfitting strongly": _curves(np.minimum(1.0, 0.7 + 0.03 * E), np.r_[0.7 + 0.03 * E[:6], 0.88 - 0.01 * E[6:]],
                                    0.2 + 0.004 * (E - 6) ** 2),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_synthetic_curves_are_classified(kind):
    d = diagnose(CASES[kind])
    assert d.verdict == kind
    assert d.advice


def test_strong_overfitting_reports_best_epoch_and_early_stopping():
    d = diagnose(CASES["overfitting strongly"])
    assert d.numbers["best_epoch"] == 6 and d.numbers["min_val_loss_epoch"] == 6
    assert "Early stopping" in d.advice or "early" in d.advice.lower()
    assert any("would have stopped at epoch 9" in n for n in d.notes)


def test_still_improving_run_says_early_stopping_would_not_help():
    d = diagnose(CASES["good fit"])
    assert any("would not have helped" in n for n in d.notes)


def test_run_dir_without_validation_is_a_clear_error(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,loss,acc\n1,0.5,0.8\n")
    with pytest.raises(UserError, match="validation"):
        diagnose_run(tmp_path)


def test_cli_on_a_synthetic_run(tmp_path, cli):
    c = CASES["overfitting strongly"]
    lines = ["epoch,loss,acc,val_loss,val_acc"] + [",".join(str(c[k][i]) for k in ("epoch", "loss", "acc", "val_loss",
                                                                                     "val_acc")) for i in range(20)]
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    res = cli("diagnose", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "verdict: overfitting strongly" in res.stdout and "best_epoch" in res.stdout
