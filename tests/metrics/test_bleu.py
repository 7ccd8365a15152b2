"""BLEU-1..4 equal sacrebleu's corpus_bleu on the same strings; BLEU-1 and BLEU-2 written out by hand."""
import math

import pytest
import sacrebleu

from nnlab.metrics.bleu import corpus_bleu, exact_match

HYPS = ["a 3 left of a 7", "two digits: 4 above 9", "a small 5", "1 2 6 from left to right"]
REFS = [["a 3 left of a 7", "a 7 right of a 3"], ["two digits: 4 above 1", "a 1 below a 4"],
        ["a 5", "a large 5"], ["one 2 6 from top to bottom", "a 1, a 2 and a 6 from left to right"]]


def test_bleu4_is_sacrebleus_corpus_bleu_with_references_as_streams():
    streams = [[r[k] for r in REFS] for k in range(2)]  # sacrebleu: one stream per reference position
    assert corpus_bleu(HYPS, REFS)["bleu4"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, streams).score, abs=1e-9)


def test_bleu1_and_bleu2_by_hand():
    hyps, refs = ["the cat sat", "a dog"], [["the cat sat down"], ["a big dog"]]
    # unigrams: 3/3 + 2/2 match -> p1 = 1; bigrams: 2/2 + 0/1 -> p2 = 2/3; hyp length 5, reference length 7
    bp = math.exp(1 - 7 / 5)
    scores = corpus_bleu(hyps, refs)
    assert scores["bleu1"] == pytest.approx(100 * bp, abs=1e-6)
    assert scores["bleu2"] == pytest.approx(100 * bp * math.sqrt(2 / 3), abs=1e-6)


def test_identical_captions_score_100_and_exact_match_counts_any_reference():
    assert corpus_bleu(["a 3 left of a 7"], [["x y", "a 3 left of a 7"]]) == {f"bleu{n}": pytest.approx(100.0)
                                                                             for n in (1, 2, 3, 4)}
    assert exact_match(HYPS, REFS) == 0.25


def test_reference_lists_must_match_the_hypotheses():
    with pytest.raises(ValueError, match="same"):
        corpus_bleu(["a", "b"], [["a"], ["b", "c"]])
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu(["a"], [["a"], ["b"]])
