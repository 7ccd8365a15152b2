"""Generated dates -> ISO 8601 pairs, their encoding, and the pair loader's exact resume."""
import datetime as dt

import torch

from nnlab.data.dates import BOS, EOS, PAD, PairLoader, encode_pairs, human_dates, pair_vocab


def test_pairs_are_seeded_and_the_target_is_the_iso_date():
    pairs = human_dates(50, seed=3)
    assert pairs == human_dates(50, seed=3) and len({a for a, _ in pairs}) > 40
    for _, iso in pairs:
        assert dt.date.fromisoformat(iso).isoformat() == iso
    assert ("2019/02/15", "2019-02-15") in human_dates(1, seed=0)


def test_sources_left_padded_targets_framed_and_right_padded():
    pairs = [("1 may 2001", "2001-05-01"), ("01.05.2001", "2001-05-01")]
    v = pair_vocab(pairs)
    src, tgt = encode_pairs(pairs, v)
    assert src.shape == (2, 10) and (src[:, -1] != PAD).all()
    assert tgt[0, 0] == BOS and tgt[0, 11] == EOS and v.decode(tgt[0, 1:11]) == "2001-05-01"


def test_pair_loader_resumes_mid_epoch_exactly():
    src, tgt = torch.arange(20).view(10, 2), torch.arange(30).view(10, 3)
    a = PairLoader(src, tgt, 3, shuffle=True, seed=1)
    list(a)
    state = a.state_dict()
    second = list(a)
    b = PairLoader(src, tgt, 3, shuffle=True, seed=7)
    b.load_state_dict({"epoch_start": state["current"], "current": state["current"]}, resume_batch=2)
    assert all(torch.equal(x[0], y[0]) for x, y in zip(list(b), second[2:]))
