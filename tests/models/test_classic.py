import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from nnlab.api import build_model
from nnlab.data import sources


def test_knn_matches_scikit_learn_on_digits():
    d = sources.load_splits("digits")["train"]
    x = d.images.float().flatten(1) / 255
    y = d.labels
    train, test = slice(0, 1400), slice(1400, None)
    for p in (1, 2):
        ours = build_model("knn", 10, 1, (8, 8), k=3, p=p)
        ours.memorize(x[train].view(-1, 1, 8, 8), y[train])
        pred = ours(x[test].view(-1, 1, 8, 8)).argmax(1).numpy()
        ref = KNeighborsClassifier(3, p=p).fit(x[train], y[train]).predict(x[test])
        assert (pred == ref).mean() > 0.99  # ties may break differently; the votes agree otherwise
        assert abs((pred == y[test].numpy()).mean() - (ref == y[test].numpy()).mean()) < 0.01


def test_knn_k1_recovers_training_labels():
    x = torch.randn(30, 1, 4, 4)
    y = torch.arange(30) % 5
    m = build_model("knn", 5, 1, (4, 4), k=1)
    m.memorize(x, y)
    assert torch.equal(m(x).argmax(1), y)


def test_linear_models_and_mlp_shapes():
    for name, loss in (("softmax", "cross_entropy"), ("svm", "hinge")):
        m = build_model(name, 10, 1, (8, 8))
        assert m.default_loss[0] == loss
        assert sum(p.numel() for p in m.parameters()) == 64 * 10 + 10
    mlp = build_model("mlp", 10, 1, (8, 8), hidden=[32, 16], dropout=0.5)
    assert [l.out_features for l in mlp.modules() if isinstance(l, torch.nn.Linear)] == [32, 16, 10]


def test_lenet5_parameter_count():
    # LeNet-5 for 32x32 input: 156 + 2416 + 48120 + 10164 + 850 = 61706 parameters (LeCun et al.)
    m = build_model("lenet5", 10, 1, (32, 32))
    assert sum(p.numel() for p in m.parameters()) == 61706
    assert sum(p.numel() for p in build_model("lenet5", 10, 1, (28, 28)).parameters()) == 61706
    assert np.isfinite(m(torch.randn(2, 1, 32, 32)).detach().numpy()).all()
