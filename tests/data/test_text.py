"""Character vocabulary, corpus split, and the stream batching of truncated BPTT."""
import pytest
import torch

from nnlab.data.text import CharVocab, StreamLoader, read_text, split_corpus, sums_text
from nnlab.errors import DataError, UserError


def test_vocab_round_trip_and_unknown_characters_are_named():
    v = CharVocab.from_text("hello world")
    assert v.chars == sorted(set("hello world"))
    assert v.decode(v.encode("low")) == "low"
    with pytest.raises(UserError, match=r"2 character\(s\) not in .*'Z', 'q'"):
        v.encode("qZo")


def test_split_is_first_90_and_last_10_percent():
    ids = torch.arange(1000)
    s = split_corpus(ids, 0.1)
    assert torch.equal(s["train"], ids[:900]) and torch.equal(s["val"], ids[900:]) and "test" not in s
    s = split_corpus(ids, 0.1, 0.05)
    assert len(s["train"]) == 850 and s["test"][0] == 950 and s["val"][-1] == 949


@pytest.mark.parametrize("n,batch,window", [(101, 4, 7), (1000, 8, 16), (33, 32, 1)])
def test_streams_cover_the_corpus_exactly_once_per_epoch(n, batch, window):
    ids = torch.arange(n)
    loader = StreamLoader(ids, batch, window)
    for _ in range(2):  # every epoch
        xs, ys, firsts = zip(*loader)
        x, y = torch.cat(xs, 1), torch.cat(ys, 1)  # (B, L)
        assert firsts[0] and not any(firsts[1:]) and len(xs) == len(loader)
        assert all(t.shape[1] <= window for t in xs)
        covered = y.flatten().sort().values
        assert torch.equal(covered, ids[1: len(covered) + 1])  # each target once, none missing
        assert n - 1 - len(covered) < batch  # only a remainder shorter than B is dropped
        assert torch.equal(y, x + 1)  # the target is the next character
        assert torch.equal(x[:, 1:], y[:, :-1])  # windows continue each other within a stream


def test_resume_skips_the_batches_done_and_checks_the_layout():
    loader = StreamLoader(torch.arange(200), 4, 5)
    full = list(loader)
    loader.load_state_dict(loader.state_dict(), resume_batch=3)
    rest = list(loader)
    assert len(rest) == len(full) - 3 and torch.equal(rest[0][0], full[3][0]) and not rest[0][2]
    assert len(list(loader)) == len(full)  # the next epoch is whole again
    with pytest.raises(UserError, match="different streams"):
        StreamLoader(torch.arange(200), 4, 6).load_state_dict(loader.state_dict(), 1)


def test_bad_input_one_clear_message(tmp_path):
    with pytest.raises(DataError, match="longer than the text"):
        StreamLoader(torch.arange(50), 2, 64)
    with pytest.raises(DataError, match="streams need"):
        StreamLoader(torch.arange(5), 8, 2)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_text(empty)
    with pytest.raises(DataError, match="not found"):
        read_text(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(DataError, match="not UTF-8"):
        read_text(bad)


def test_generated_sums_are_seeded_and_long_enough():
    a = sums_text(300, seed=1)
    assert a == sums_text(300, seed=1) and len(a) >= 300 and a != sums_text(300, seed=2)
    first = a.splitlines()[0].split()
    assert int(first[0]) + int(first[2]) == int(first[4])
