import torch

from nnlab.data import ImageDataset, Preprocess, TensorLoader


def _ds(n=10):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return ImageDataset(images, torch.arange(n) % 3, ["a", "b", "c"])


def test_normalization_matches_formula():
    ds = _ds()
    pre = Preprocess.fit(ds.images)
    x, _ = next(iter(TensorLoader(ds, pre, batch_size=10)))
    ref = (ds.images.double() / 255 - pre.mean[0]) / pre.std[0]
    assert torch.allclose(x.double(), ref, atol=1e-5)
    assert abs(x.mean().item()) < 1e-5


def test_full_batch_and_reshuffle_every_epoch():
    ds = _ds()
    pre = Preprocess.fit(ds.images, normalize=False)
    full = TensorLoader(ds, pre, batch_size=None)
    assert len(full) == 1
    loader = TensorLoader(ds, pre, batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 3
    epochs = [torch.cat([y for _, y in loader]) for _ in range(2)]
    assert not torch.equal(epochs[0], epochs[1])
    values = torch.cat([x[:, 0, 0, 0] for x, _ in loader]) * 255  # each sample exactly once per epoch
    assert torch.allclose(values.sort().values, torch.arange(10, dtype=torch.float32), atol=1e-4)


def test_resume_mid_epoch_replays_the_same_batches():
    ds = _ds(20)
    pre = Preprocess.fit(ds.images)
    a = TensorLoader(ds, pre, batch_size=3, shuffle=True, seed=5)
    list(a)  # epoch 1
    it = iter(a)
    seen = [next(it)[1] for _ in range(2)]  # two batches of epoch 2, then "interrupt"
    state = a.state_dict()
    rest = [y for _, y in it]
    b = TensorLoader(ds, pre, batch_size=3, shuffle=True, seed=0)
    b.load_state_dict(state, resume_batch=2)
    replay = [y for _, y in b]
    assert len(replay) == len(rest) and all(torch.equal(p, q) for p, q in zip(replay, rest))
    assert sum(len(y) for y in seen + replay) == 20
    # the next epoch continues the same sequence too
    assert torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in b]))


def test_prefetch_workers_give_identical_batches():
    ds = _ds(50)
    pre = Preprocess.fit(ds.images)
    a = TensorLoader(ds, pre, batch_size=4, shuffle=True, seed=3)
    b = TensorLoader(ds, pre, batch_size=4, shuffle=True, seed=3, num_workers=2)
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_targets_batch_masks_as_int64_with_their_images():
    ds = _ds(6)
    masks = ds.images[:, 0].clone()  # (N, 2, 2) uint8: each mask holds its image's value
    loader = TensorLoader(ds, Preprocess.fit(ds.images, normalize=False), batch_size=4, shuffle=True, seed=1,
                          targets=masks)
    for x, y in loader:
        assert y.dtype == torch.int64 and y.shape[1:] == (2, 2)
        assert torch.equal((x[:, 0] * 255).round().long(), y)
