import pytest
import yaml

from nnlab import config
from nnlab.errors import ConfigError


def test_defaults_and_roundtrip(tmp_path):
    cfg = config.from_dict({"model": {"name": "mlp", "hidden": [8]}, "optim": {"lr": "1e-3", "momentum": 0.9}})
    assert cfg.optim.lr == 1e-3  # YAML 1.1 reads 1e-3 as a string; accepted for float keys
    assert cfg.model.args == {"hidden": [8]}
    assert cfg.optim.args == {"momentum": 0.9}
    path = tmp_path / "c.yaml"
    config.save(cfg, path)
    assert config.load(path) == cfg
    assert yaml.safe_load(path.read_text())["model"] == {"name": "mlp", "hidden": [8]}


def test_overrides_parse_yaml_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n")
    cfg = config.load(path, ["--train.epochs=7", "--train.batch_size=full", "--model.hidden=[4, 5]",
                             "--data.image_size=[28, 28]", "--train.checkpoint.keep_last=2"])
    assert cfg.train.epochs == 7 and cfg.train.batch_size == "full"
    assert cfg.model.args["hidden"] == [4, 5] and cfg.data.image_size == [28, 28]
    assert cfg.train.checkpoint.keep_last == 2


@pytest.mark.parametrize("raw, key", [
    ({"trian": {}}, "'trian'"),
    ({"train": {"epoch": 3}}, "'train.epoch'"),
    ({"train": {"checkpoint": {"every": 3}}}, "'train.checkpoint.every'"),
])
def test_unknown_keys_are_named(raw, key):
    with pytest.raises(ConfigError, match=f"unknown config key {key}"):
        config.from_dict(raw)


@pytest.mark.parametrize("raw, key", [
    ({"train": {"epochs": "ten"}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"batch_size": "half"}}, "train.batch_size"),
    ({"train": {"channels_last": "yes"}}, "train.channels_last"),
    ({"optim": {"lr": "fast"}}, "optim.lr"),
    ({"data": {"image_size": 28}}, "data.image_size"),
    ({"train": {"precision": "fp8"}}, "train.precision"),
])
def test_wrong_types_are_named(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(raw)


@pytest.mark.parametrize("raw, key", [
    ({"optim": {"lr": -0.1}}, "optim.lr"),
    ({"optim": {"lr": 0}}, "optim.lr"),
    ({"train": {"batch_size": 0}}, "train.batch_size"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"data": {"val_fraction": 1.5}}, "data.val_fraction"),
    ({"train": {"early_stopping": {"patience": 0}}}, "train.early_stopping.patience"),
])
def test_impossible_values_are_named(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.from_dict(raw)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)
    with pytest.raises(ConfigError, match="--section.key=value"):
        config.apply_overrides({}, ["epochs"])


def test_duplicate_keys_are_refused_but_merge_keys_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.1\n  name: sgd\n  lr: 0.5\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'lr' \(first on line 2\) \(line 4, column 3\)"):
        config.load(path)
    assert yaml.load("a: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n", Loader=config.UniqueKeyLoader)["c"] == {"x": 2}
    with pytest.raises(ConfigError):  # an override's value is never silently one of two
        config.from_dict(config.apply_overrides({}, ["train={epochs: 1, epochs: 2}"]))


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="is empty"):
        config.load(path)


@pytest.mark.parametrize("raw, message", [
    ({"optim": {"lr": float("inf")}}, "'optim.lr' must be positive and finite"),
    ({"optim": {"lr": float("nan")}}, "'optim.lr' must be positive and finite"),
    ({"train": {"epochs": 10**12}}, "'train.epochs' must be between 1 and 100000"),
    ({"train": {"epochs": 1e12}}, "'train.epochs' got 1000000000000.0, expected int"),
])
def test_non_finite_and_absurd_values_are_refused(raw, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config.from_dict(raw)
