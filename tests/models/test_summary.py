import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nnlab.api import build_model
from nnlab.models.summary import conv_output_size, summarize


def test_notes_worked_examples():
    assert conv_output_size(7, 3, p=1, s=1) == 7  # 7x7 input, 3x3 filter, stride 1, pad 1 -> 7x7
    assert conv_output_size(32, 5, p=2, s=1) == 32  # N=32, F=5, P=2, S=1 -> 32
    assert conv_output_size(7, 3, s=2) == 3 and conv_output_size(227, 11, s=4) == 55
    row = summarize(nn.Conv2d(1, 1, 3, 1, 1), (1, 7, 7)).rows[0]
    assert row.shape == (1, 7, 7) and row.params == 10 and row.macs == 7 * 7 * 9
    row = summarize(nn.Conv2d(3, 6, 5, 1, 2), (3, 32, 32)).rows[0]
    assert row.shape == (6, 32, 32) and row.rf == 5 and row.stride == 1


def test_receptive_field_and_stride_grow_through_a_stack():
    # two 3x3 convs see what one 5x5 sees (VGG); three see a 7x7; a 2x2/2 pool doubles the step
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2),
                        nn.Conv2d(1, 1, 3, padding=1))
    rows = summarize(net, (1, 16, 16)).rows
    assert [(r.rf, r.stride) for r in rows] == [(3, 1), (5, 1), (6, 2), (10, 2)]
    rows = summarize(build_model("resnet18", 10, 3, (64, 64), form="imagenet"), (3, 64, 64)).rows
    assert (rows[0].rf, rows[0].stride) == (7, 2) and (rows[3].rf, rows[3].stride) == (11, 4)


@pytest.mark.parametrize("name, shape", [("lenet5", (1, 28, 28)), ("resnet20", (3, 32, 32)),
                                         ("googlenet", (3, 16, 16))])
def test_totals_agree_with_torchinfo_and_torch_flop_counter(name, shape):
    torchinfo = pytest.importorskip("torchinfo")
    model = build_model(name, 10, shape[0], shape[1:]).eval()
    s = summarize(model, shape, batch=2)
    assert s.params == torchinfo.summary(model, (1, *shape), verbose=0).total_params
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    assert s.macs == counter.get_total_flops() // 2  # conv + matmul flops = 2 x multiply-adds
    assert s.activation_bytes == 4 * 2 * sum(torch.Size(r.shape).numel() for r in s.rows)
    assert "multiply-adds" in s.table()
