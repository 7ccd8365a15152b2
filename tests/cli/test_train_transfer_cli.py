import pytest
import yaml

import nnlab
from nnlab.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_prints_frozen_layers_and_trainable_parameters(tmp_path, capsys):
    cfg = {"name": "base", "data": {"dataset": "digits", "train_size": 100},
           "model": {"name": "resnet20"}, "train": {"epochs": 1, "device": "cpu"}}
    base = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    path = tmp_path / "ft.yaml"
    path.write_text(yaml.safe_dump({**cfg, "name": "ft"}))
    code = main(["train", str(path), "--quiet", "--runs", str(tmp_path), f"--model.weights={base.dir}",
                 "--model.freeze=[up_to:layer2]"])
    out = capsys.readouterr().out
    assert code == 0 and "frozen: conv1, bn1, layer1, layer2; trainable parameters: 2" in out
    assert main(["train", str(path), "--quiet", "--runs", str(tmp_path), "--model.freeze=[stem]"]) == 2
    assert "'stem' matches no module" in capsys.readouterr().err
