"""PixelRNN with Row LSTM layers (van den Oord et al. 2016; notes: PixelRNN generates pixels one by one from the
top-left corner with an RNN over the image; PixelCNN replaces it with masked convolutions, faster to train).

A Row LSTM layer computes the image row by row: the gates of row i come from a 1-D convolution (width 3) over the
hidden state of row i - 1 (state-to-state) plus a masked 1 x k convolution over row i of the layer's input
(input-to-state, computed for every row at once). Its receptive field is a triangle above the pixel; training is
sequential over the H rows, which is what PixelCNN's fully parallel training removes. The layout follows the
paper: a 7x7 type-A masked convolution, residual Row LSTM layers (the state's h channels projected back to 2h by a
1x1 convolution and added), two 1x1 layers to the logits.
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.generative.pixelcnn import MaskedConv2d, PixelModel, check_pixel_options
from nnlab.models.generative.registry import GENERATIVE


class RowLSTM(nn.Module):
    """(B, in, H, W) -> hidden states (B, hidden, H, W); row i sees rows above it and, in row i, the positions
    the mask allows (type A: left of the pixel, type B: the pixel too)."""

    def __init__(self, mask_type: str, in_chans: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(mask_type, in_chans, 4 * hidden, kernel_size)
        self.input_to_state.mask[..., : kernel_size // 2, :] = 0  # along the row only (1 x k)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pre = self.input_to_state(x)  # (B, 4 hidden, H, W)
        state = x.new_zeros(b, self.hidden, w)  # (B, hidden, W)
        cell = torch.zeros_like(state)
        rows = []
        for i in range(h):
            gates = pre[:, :, i] + self.state_to_state(state)  # (B, 4 hidden, W)
            o, f, g_in, g = gates.chunk(4, 1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(g_in) * torch.tanh(g)
            state = torch.sigmoid(o) * torch.tanh(cell)
            rows.append(state)
        return torch.stack(rows, 2)  # (B, hidden, H, W)


class ResidualRowLSTM(nn.Module):
    """x + 1x1(RowLSTM(x)): 2h channels in and out, an h-wide state (the paper's residual connection)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.rnn = RowLSTM("B", channels, channels // 2)
        self.expand = nn.Conv2d(channels // 2, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(self.rnn(x))


class PixelRNN(PixelModel):
    """Images in [0, 1] (B, C, H, W) -> logits, as PixelCNN (binary or ``levels``-way)."""

    def __init__(self, in_chans: int, input_size: tuple[int, int], channels: int, layers: int, levels: int) -> None:
        super().__init__()
        out = self._init_pixels(in_chans, input_size, levels)
        self.net = nn.Sequential(
            MaskedConv2d("A", in_chans, channels, 7), *[ResidualRowLSTM(channels) for _ in range(layers)],
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._shape_logits(self.net(x * 2 - 1))  # centred input


@GENERATIVE.register("pixelrnn")
def pixelrnn(*, in_chans: int, input_size: tuple[int, int], channels: int = 32, layers: int = 2,
             levels: int = 2) -> PixelRNN:
    """A Row LSTM PixelRNN: a 7x7 type-A masked convolution, ``layers`` residual Row LSTM layers with
    ``channels / 2`` hidden units, two 1x1 layers; binary (``levels: 2``) or 256-way output."""
    check_pixel_options(levels, channels)
    if not isinstance(layers, int) or layers < 0:
        raise ConfigError(f"config key 'model.layers' must be an integer >= 0, got {layers!r}")
    return PixelRNN(in_chans, input_size, channels, layers, levels)
