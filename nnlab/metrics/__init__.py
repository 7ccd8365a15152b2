"""Metrics on torch tensors, each checked against its reference library (scikit-learn, torchmetrics,
pycocotools) in the tests."""
