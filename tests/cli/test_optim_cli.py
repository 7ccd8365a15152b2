import yaml

from nnlab.cli.main import main


def test_optim_list(capsys):
    assert main(["optim", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam",
                 "radam", "adamp", "sgdp", "lbfgs", "lion"):
        assert f"\n{name} " in out and f"\n  {name} " in out, name  # table row and update rule
    for name in ("fixed", "step", "multistep", "exp", "inv", "poly", "sigmoid", "cosine", "warmup_cosine",
                 "onecycle", "plateau"):
        assert f"\n  {name} " in out, name
    assert "w -= lr*(g + mu*v)" in out and "timm.AdamP" in out


def test_optim_race(capsys, tmp_path):
    assert main(["optim", "race", "--fn", "himmelblau", "--optims", "sgd,adam", "--steps", "40",
                 "--out", str(tmp_path), "--no-gif"]) == 0
    assert (tmp_path / "himmelblau.png").is_file() and "steps to f-f*" in capsys.readouterr().out
    assert (tmp_path / "race.csv").read_text().count("\n") == 3
    assert main(["optim", "race", "--fn", "himalaya", "--out", str(tmp_path)]) == 2
    assert "valid names" in capsys.readouterr().err
    assert main(["optim", "race", "--lr", "sgd=-1", "--out", str(tmp_path)]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_lr_plot(capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dataset": "digits"}, "model": {"name": "mlp"},
                                   "optim": {"name": "sgd", "lr": 0.1, "schedule": {"name": "onecycle"}},
                                   "train": {"epochs": 4}}))
    assert main(["lr-plot", str(cfg), "--out", str(tmp_path / "lr.png"), "--optim.schedule.per_step=true"]) == 0
    assert "lr from 0.004" in capsys.readouterr().out and (tmp_path / "lr.png").stat().st_size > 5_000
    assert main(["lr-plot", str(cfg), "--optim.schedule.name=warmup_cosine", "--optim.schedule.warmup=9"]) == 2
    assert "shorter than the run" in capsys.readouterr().err
