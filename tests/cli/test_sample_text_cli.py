"""nnlab sample / predict / eval on a character language model run."""
import pytest

import nnlab
from nnlab.cli.main import main

_LM = {"task": "sequence", "data": {"dataset": "sums"}, "sequence": {"window": 16, "generated_chars": 600},
       "model": {"name": "lstm", "hidden": 8, "embed": 4}, "optim": {"name": "adam", "lr": 0.01},
       "train": {"epochs": 1, "batch_size": 4}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return nnlab.fit(_LM, runs_root=tmp_path_factory.mktemp("runs"), progress=False).dir


def test_sample_continues_the_prompt(run_dir, capsys):
    assert main(["sample", str(run_dir), "--prompt", "12 + ", "--length", "30", "--temperature", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("12 + ") and len(out.rstrip("\n")) >= 12
    greedy = nnlab.sample(run_dir, prompt="12 + ", length=30, temperature=0.0)
    assert out == "12 + " + greedy["sample"] + "\n"  # temperature 0 repeats: argmax every step


def test_sample_names_characters_outside_the_vocabulary(run_dir, capsys):
    assert main(["sample", str(run_dir), "--prompt", "ROMEO:"]) == 2
    err = capsys.readouterr().err
    assert "not in the model's vocabulary" in err and "'R'" in err and "Traceback" not in err


def test_predict_continues_prompt_files_and_eval_counts_characters(run_dir, tmp_path, capsys):
    prompt = tmp_path / "p.txt"
    prompt.write_text("7 + 8 =")
    assert main(["predict", str(run_dir), str(prompt)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(prompt) and out[1].startswith("7 + 8 =")
    assert main(["eval", str(run_dir)]) == 0
    assert "characters" in capsys.readouterr().out
