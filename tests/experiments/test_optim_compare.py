import pytest

from nnlab import config as cfgmod
from nnlab.errors import UserError
from nnlab.experiments.optim_compare import compare, optimizer_config, write_report


def test_optimizer_config_lr_and_options(tiny_config):
    tiny_config["optim"].update(name="adam", lr=0.005, betas=[0.8, 0.9], weight_decay=1e-4,
                                schedule={"name": "cosine"})
    cfg = cfgmod.from_dict(tiny_config)
    own = optimizer_config(cfg, "adam", None, 3)
    assert (own.optim.lr, own.optim.args, own.seed, own.data.split_seed) == (0.005, {"betas": [0.8, 0.9]}, 3, 0)
    other = optimizer_config(cfg, "sgd", None, 1)
    assert other.optim.lr is None and other.optim.args == {}  # the table's default lr, no adam options
    assert other.optim.weight_decay == 1e-4 and other.optim.schedule.name == "cosine"
    assert optimizer_config(cfg, "sgd", 0.3, 1).optim.lr == 0.3


@pytest.mark.slow
def test_compare_report(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 2
    results = compare(tiny_config, ["sgd", "adam"], seeds=2, lrs={"sgd": 0.3}, runs_root=tmp_path / "runs",
                      log=lambda s: None)
    assert [(r.name, r.lr, len(r.runs)) for r in results] == [("sgd", 0.3, 2), ("adam", 1e-3, 2)]
    sgd = results[0]
    assert len(sgd.curves["val_acc"]) == 2 and len(sgd.curves["val_acc"][0]) == 2
    assert [r.config.seed for r in sgd.runs] == [0, 1] and len(sgd.test_acc) == 2
    assert sgd.curves["val_acc"][0] != sgd.curves["val_acc"][1]  # seeds differ
    path = write_report(results, tmp_path / "report", "tiny")
    text = path.read_text()
    assert "| sgd | 0.3 |" in text and "| adam | 0.001 |" in text and (path.parent / "curves.png").is_file()


def test_bad_input_before_any_run(tiny_config, tmp_path):
    for optims, kw, match in [(["sgd", "adamx"], {}, "Valid names"), (["sgd"], {"seeds": 0}, "--seeds"),
                              (["sgd"], {"lrs": {"adam": 0.1}}, "not compared"),
                              (["sgd", "lbfgs"], {"overrides": ["--optim.weight_decay=0.1"]}, "lbfgs")]:
        with pytest.raises(UserError, match=match):
            compare(tiny_config, optims, runs_root=tmp_path / "runs", **kw)
    assert not (tmp_path / "runs").exists()
