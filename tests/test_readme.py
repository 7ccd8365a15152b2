"""The README's examples match the code: run folder names and the config block's defaults."""
import re

import yaml

from nnlab import config
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_run_folders_in_examples_are_the_ones_training_makes():
    name = config.load(ROOT / "configs" / "classify" / "digits_mlp.yaml").run_name
    used = set(re.findall(r"runs/classify/(digits[\w-]*?)-\d+", README))
    assert used == {name}, used


def test_config_block_shows_the_checkpoint_defaults():
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "checkpoint:" in b)
    shown = yaml.safe_load(block)["train"]["checkpoint"]
    assert shown == config.to_dict(config.CheckpointConfig())
