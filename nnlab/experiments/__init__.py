"""Generalization experiments above the public API: cross-validation, bootstrap intervals, ensembles
(bagging, boosting, averaging), hyper-parameter search, learning-curve diagnosis and the claims lab."""
