"""task: sequence: truncated BPTT carries the state and stops the gradient at the window; exact resume of the
carried state; sampling and its bad input; the rows (many-to-one) mode; text bad input."""
import math

import pytest
import torch

import nnlab
from nnlab.config import from_dict
from nnlab.data.text import StreamLoader
from nnlab.errors import DataError, UserError
from nnlab.tasks.sequence import CarriedLoader, Carry, LanguageModelEvaluator, SequenceTask

_LM = {"task": "sequence", "data": {"dataset": "sums"}, "sequence": {"window": 16, "generated_chars": 600},
       "model": {"name": "gru", "hidden": 8, "embed": 4}, "optim": {"name": "adam", "lr": 0.01},
       "train": {"epochs": 1, "batch_size": 4}}


def _task(model_name="lstm"):
    torch.manual_seed(0)
    task = SequenceTask(from_dict({**_LM, "model": {"name": model_name, "hidden": 8, "embed": 4}}))
    info = {"kind": "lm", "vocab": list("abcd")}
    model = task.build_model(info)
    task.setup(model, info)
    return task, model


def test_the_gradient_stops_at_the_window_start():
    task, model = _task()
    first, second = torch.zeros(2, 5, dtype=torch.long), torch.randint(1, 4, (2, 5))  # token 0 only in window 1
    task.training_step(model, (first, second, True))
    assert all(not s.requires_grad for s in task.carry.state)
    model.zero_grad()
    loss, _ = task.training_step(model, (second, second, False))
    loss.backward()
    assert torch.count_nonzero(model.embed.weight.grad[0]) == 0  # nothing reached window 1's inputs
    model.zero_grad()  # control: without truncation the same loss does reach them
    scores, _ = model(torch.cat([first, second], 1))
    torch.nn.functional.cross_entropy(scores[:, 5:].flatten(0, 1), second.flatten()).backward()
    assert torch.count_nonzero(model.embed.weight.grad[0]) > 0


def test_the_state_is_carried_within_an_epoch_and_reset_at_its_start():
    task, model = _task("gru")
    x = torch.randint(0, 4, (2, 6))
    scores, state = model(x)
    task.carry.keep(state)
    torch.testing.assert_close(task.carry.start(x, first=False)[0], state[0])
    assert task.carry.start(x, first=True) is None  # zeros again at an epoch's first window
    carried, _ = model(x, task.carry.start(x, False))
    assert not torch.allclose(carried, model(x)[0])


def test_the_saved_loader_state_holds_the_carry_for_a_mid_epoch_resume():
    carry = Carry()
    loader = CarriedLoader(StreamLoader(torch.arange(100) % 4, 4, 5), carry)
    carry.keep((torch.ones(1, 4, 3),))
    state = loader.state_dict()
    carry.state = None
    loader.load_state_dict(state, resume_batch=2)
    assert torch.equal(carry.state[0], torch.ones(1, 4, 3)) and len(list(loader)) == len(loader) - 2
    loader.load_state_dict(state, resume_batch=0)
    assert carry.state is None


def test_evaluator_reports_nats_and_bits_per_character():
    task, model = _task()
    ev = LanguageModelEvaluator()
    for batch in StreamLoader(torch.arange(60) % 4, 3, 7):
        ev.update(model, batch)
    m = ev.compute()
    assert ev.count == 57 and m["bpc"] == pytest.approx(m["loss"] / math.log(2))
    assert 0 < m["loss"] < 2 * math.log(4)


def test_sampling_names_unknown_prompt_characters():
    task, model = _task()
    info = {"kind": "lm", "vocab": list("abcd")}
    out = task.sample(model, info, torch.device("cpu"), "abba", length=7, temperature=0.0)
    assert len(out["sample"]) == 7 and set(out["sample"]) <= set("abcd")
    with pytest.raises(UserError, match=r"not in the model's vocabulary: 'R', 'x'"):
        task.sample(model, info, torch.device("cpu"), "abRx", length=5)
    with pytest.raises(UserError, match="empty"):
        task.sample(model, info, torch.device("cpu"), "", length=5)


def test_bad_text_input_is_one_clear_message(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        nnlab.fit({**_LM, "data": {"dataset": "text", "path": str(empty)}}, runs_root=tmp_path, progress=False)
    with pytest.raises(DataError, match="longer than the text"):
        nnlab.fit({**_LM, "sequence": {"window": 1000, "generated_chars": 600}}, runs_root=tmp_path, progress=False)
    with pytest.raises(UserError, match="is not text"):
        nnlab.fit({**_LM, "data": {"dataset": "digits"}}, runs_root=tmp_path, progress=False)


def test_rows_mode_reads_images_row_by_row(tmp_path):
    cfg = {"task": "sequence", "sequence": {"mode": "rows"}, "data": {"dataset": "digits", "train_size": 128},
           "model": {"name": "gru", "hidden": 8}, "optim": {"name": "adam", "lr": 0.01},
           "train": {"epochs": 1, "batch_size": 64}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert run.meta["steps"] == 8 and run.meta["in_features"] == 8  # 8x8 digits: 8 steps of 8 pixels
    assert 0 <= run.test["acc"] <= 1 and "top5" in run.test


def test_seq2seq_mode_trains_reports_exact_match_and_translates(tmp_path):
    cfg = {"task": "sequence", "sequence": {"mode": "seq2seq", "pairs": 64, "val_fraction": 0.25, "beam": 2},
           "model": {"name": "seq2seq", "hidden": 8, "embed": 4}, "optim": {"name": "adam", "lr": 0.01},
           "train": {"epochs": 1, "batch_size": 16}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert run.meta["max_len"] == 11 and run.meta["pairs"]["train"] == 48 and 0 <= run.test["exact_acc"] <= 1
    src = tmp_path / "dates.txt"
    src.write_text("01.02.2003\n2004/05/06\n")
    (r,) = nnlab.predict(run.dir, [src])
    assert [t["source"] for t in r["translations"]] == ["01.02.2003", "2004/05/06"]
    with pytest.raises(UserError, match="mode seq2seq goes with model.name seq2seq"):
        nnlab.fit({**cfg, "model": {"name": "gru"}}, runs_root=tmp_path, progress=False)
