"""k-nearest neighbours (CS231n lecture 2): memorize the training set, vote among the k closest.

No training loop: ``memorize`` stores the (normalized) training images. Distances are computed in
batches on torch: L2 through one matrix product (|t|^2 - 2 x.t ranks like |x - t|^2), L1 with cdist.
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.registry import MODELS


class KNN(nn.Module):
    needs_training = False

    def __init__(self, num_classes: int, in_features: int, k: int, p: int, chunk: int = 512) -> None:
        super().__init__()
        self.num_classes, self.k, self.p, self.chunk = num_classes, k, p, chunk
        # float16 halves checkpoint size; distances are computed in float32
        self.register_buffer("bank", torch.zeros(0, in_features, dtype=torch.float16))
        self.register_buffer("bank_labels", torch.zeros(0, dtype=torch.int64))

    def memorize(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if len(x) < self.k:
            raise ConfigError(f"kNN with k={self.k} needs at least {self.k} training samples, got {len(x)}")
        self.bank = x.flatten(1).to(torch.float16)
        self.bank_labels = y.clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        for name in ("bank", "bank_labels"):  # the bank's size comes from the checkpoint
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log vote fractions (B, K), so softmax gives the vote shares and argmax the majority."""
        if len(self.bank) == 0:
            raise RuntimeError("kNN has not memorized a training set")
        q = x.flatten(1).float()  # (B, D)
        bank = self.bank.float()  # (N, D)
        sq = (bank * bank).sum(1)
        votes = []
        for part in q.split(self.chunk):
            if self.p == 2:
                dist = sq[None, :] - 2 * part @ bank.T  # (b, N), same order as squared L2
            else:
                dist = torch.cdist(part, bank, p=1)
            nearest = dist.topk(self.k, dim=1, largest=False).indices  # (b, k)
            labels = self.bank_labels[nearest]
            # ties break toward the nearest neighbour: it gets a tiny extra vote
            weight = torch.ones_like(labels, dtype=torch.float32)
            weight[:, 0] += 1e-3
            votes.append(torch.zeros(len(part), self.num_classes).scatter_add_(1, labels, weight))
        v = torch.cat(votes)
        return torch.log((v + 1e-4) / (v.sum(1, keepdim=True) + 1e-4 * self.num_classes))


@MODELS.register("knn")
def knn(num_classes: int, in_chans: int, input_size: tuple[int, int], k: int = 3, p: int = 2) -> KNN:
    """``p``: 1 for L1 (Manhattan) or 2 for L2 (Euclidean) distance."""
    if k < 1:
        raise ConfigError("config key 'model.k' must be >= 1")
    if p not in (1, 2):
        raise ConfigError("config key 'model.p' must be 1 (L1) or 2 (L2)")
    return KNN(num_classes, in_chans * input_size[0] * input_size[1], k, p)
