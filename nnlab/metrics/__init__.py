"""Evaluation metrics (reference-checked against torchmetrics / pycocotools in the tests)."""
