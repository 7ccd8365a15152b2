"""Word vocabulary (specials, min count, <unk>, round trip) and captions derived from a scene's boxes."""
import pytest
import torch

from nnlab.data.captions import END, PAD, PHRASINGS, START, UNK, WordVocab, describe, detokenize, encode_captions, \
    tokenize


def test_tokenize_splits_punctuation_and_detokenize_undoes_it():
    text = "two digits: 1, 4 and 7 from left to right"
    assert tokenize("Two digits: 1, 4") == ["two", "digits", ":", "1", ",", "4"]
    assert detokenize(tokenize(text)) == text


def test_vocabulary_keeps_words_seen_min_count_times_and_reads_others_as_unk():
    vocab = WordVocab.from_texts(["a 3 left of a 7", "a 7 above a 3", "a 5"], min_count=2)
    assert vocab.words[:4] == ["<pad>", "<start>", "<end>", "<unk>"] and vocab.words[4:] == ["3", "7", "a"]
    ids = vocab.encode("a 5 left of a 3")
    assert ids[0] == START and ids[-1] == END and ids.count(UNK) == 3
    assert vocab.decode(ids) == "a <unk> <unk> <unk> a 3"
    assert vocab.decode([START, vocab.index["a"], END, vocab.index["7"]]) == "a"  # stops at <end>


def test_vocabulary_round_trips_captions_and_pads_references():
    refs = [["a 3", "one digit: 3", "a small 3"], ["a 3 left of a 7", "a 7 right of a 3", "two digits: 3 left of 7"]]
    vocab = WordVocab.from_texts([c for r in refs for c in r])
    ids = encode_captions(refs, vocab)
    assert ids.shape == (2, 3, 9) and ids[0, 0, 4:].eq(PAD).all()
    assert [[vocab.decode(c) for c in r] for r in ids] == refs
    assert WordVocab(vocab.words).index == vocab.index  # saved as its word list, rebuilt identically


def _boxes(*centres, side=10):
    return torch.tensor([[x - side / 2, y - side / 2, x + side / 2, y + side / 2] for x, y in centres])


def test_two_digits_side_by_side_or_stacked():
    assert describe(_boxes((40, 30), (10, 32)), ["7", "3"], 64) == [
        "a 3 left of a 7", "a 7 right of a 3", "two digits: 3 left of 7"]
    assert describe(_boxes((20, 50), (24, 8)), ["8", "4"], 64) == [
        "a 4 above an 8", "an 8 below a 4", "two digits: 4 above 8"]


def test_one_digit_its_size_and_three_in_order():
    assert describe(_boxes((30, 30), side=30), ["5"], 64) == ["a 5", "one digit: 5", "a large 5"]
    assert describe(_boxes((30, 30), side=12), ["5"], 64)[2] == "a small 5"
    three = describe(_boxes((10, 50), (12, 5), (14, 30)), ["1", "2", "6"], 64)
    assert three == ["three digits: 2, 6 and 1 from top to bottom", "a 2, a 6 and a 1 from top to bottom",
                     "2 6 1 from top to bottom"]
    assert describe(torch.zeros(0, 4), [], 64) == ["no digits", "an empty scene", "nothing"]
    assert len(describe(_boxes((5, 5), (20, 5), (35, 5), (50, 5)), list("1234"), 64)) == PHRASINGS
