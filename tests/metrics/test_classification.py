import numpy as np
import torch
from sklearn.metrics import confusion_matrix as sk_cm
from sklearn.metrics import precision_recall_fscore_support, top_k_accuracy_score

from nnlab.metrics.classification import confusion_matrix, per_class_report, topk_correct


def test_against_scikit_learn():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 6, generator=g)
    y = torch.randint(0, 6, (200,), generator=g)
    y[:3] = 5  # make sure all classes occur
    pred = logits.argmax(1)
    cm = confusion_matrix(pred, y, 6)
    np.testing.assert_array_equal(cm.numpy(), sk_cm(y, pred, labels=range(6)))
    rep = per_class_report(cm)
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(6), zero_division=0)
    for ours, ref in zip((rep["precision"], rep["recall"], rep["f1"], rep["support"]), (p, r, f, s)):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)
    top1, top5 = topk_correct(logits, y, (1, 5))
    assert top1 / 200 == top_k_accuracy_score(y, logits, k=1, labels=range(6))
    assert top5 / 200 == top_k_accuracy_score(y, logits, k=5, labels=range(6))


def test_soft_targets_use_dominant_label_and_k_above_classes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    soft = torch.tensor([[0.7, 0.3], [0.6, 0.4]])
    assert topk_correct(logits, soft, (1, 5)) == [1, 2]


def test_undefined_precision_is_zero():
    cm = confusion_matrix(torch.tensor([0, 0]), torch.tensor([0, 1]), 3)
    rep = per_class_report(cm)
    assert rep["precision"][2] == 0 and rep["recall"][2] == 0 and rep["f1"][1] == 0
