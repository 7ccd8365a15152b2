"""The Row LSTM PixelRNN keeps the chain rule (output pixel i depends only on input pixels before i), sees a
triangle above each pixel, samples on the PixelCNN grid, overfits one batch and refuses bad options."""
from __future__ import annotations

import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.generative import GENERATIVE
from nnlab.models.generative.pixelrnn import RowLSTM
from tests.models.generative.test_pixelcnn import _dependency, overfit_ratio


@pytest.mark.parametrize("levels", [2, 256])
def test_output_pixel_i_sees_only_pixels_before_i(levels):
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelrnn", in_chans=2, input_size=(5, 4), channels=8, layers=2, levels=levels)
    dep = _dependency(model, 2, 5, 4)
    n = dep.shape[0]
    assert not torch.triu(dep).any()  # j >= i never, i itself included
    assert dep[n - 1, : n - 1].sum() >= 15  # the recurrence carries information down from the first rows


def test_row_lstm_row_i_sees_rows_above_and_its_row_up_to_the_mask():
    torch.manual_seed(0)
    layer = RowLSTM("A", 1, 4)
    dep = _dependency(layer, 1, 4, 5)  # (20, 20): output pixel -> input pixels
    i, j = 3 * 5 + 2, 3  # pixel (3, 2)
    assert not dep[i, i:].any()  # type A: not itself, nothing after it
    assert dep[i, 3 * 5 + 1] and dep[i, 2 * 5 + 2] and dep[i, 0 * 5 + 0]  # left neighbour, above, far above-left
    b = _dependency(RowLSTM("B", 1, 4), 1, 4, 5)
    assert b[i, i] and not b[i, i + 1:].any()  # type B: itself too


def test_samples_match_with_and_without_the_row_window():
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelrnn", in_chans=1, input_size=(6, 5), channels=4, layers=1)
    full = model.sample(2, torch.Generator().manual_seed(1), crop=False)
    assert torch.equal(full, model.sample(2, torch.Generator().manual_seed(1)))
    assert set(full.unique().tolist()) <= {0.0, 1.0}


def test_pixelrnn_overfits_one_batch():
    torch.manual_seed(0)
    model = GENERATIVE.build("pixelrnn", in_chans=1, input_size=(4, 4), channels=16, layers=1)
    assert overfit_ratio(model, 4, 30, 0.02) < 0.5


@pytest.mark.parametrize("options, match", [({"levels": 16}, "levels"), ({"channels": 3}, "channels"),
                                            ({"layers": -1}, "layers")])
def test_bad_options_are_clear(options, match):
    with pytest.raises(ConfigError, match=match):
        GENERATIVE.build("pixelrnn", in_chans=1, input_size=(8, 8), **options)
