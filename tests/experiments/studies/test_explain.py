"""The explain study's measurement on a tiny trained run: every method timed and sanity-checked."""
from __future__ import annotations

from nnlab.experiments.studies import STUDIES
from nnlab.explain.attribution import METHODS
from nnlab.experiments.studies.explain import measure
from tests.explain.conftest import mlp_run  # noqa: F401  (session fixture)

PIXEL_METHODS = tuple(m for m in METHODS if not m.startswith("gradcam"))  # an MLP has no feature maps


def test_measure_times_and_checks_every_method(mlp_run):
    assert "explain" in STUDIES.names()
    ms, sanity, threads = measure(mlp_run, n=4, repeats=1, methods=PIXEL_METHODS)
    assert set(ms) == set(sanity) == set(PIXEL_METHODS) and all(v > 0 for v in ms.values())
    for s in sanity.values():
        assert s.layers == ["head", "features.0"] and len(s.correlations) == 2
        assert all(-1 <= r <= 1 for r in s.correlations)
    assert sanity["saliency"].passed  # plain gradients depend on the weights (Adebayo et al.)


def test_dream_transfer_reads_each_class_model_with_both_models(mlp_run):
    from nnlab.experiments.studies.explain import dream_transfer

    rows = dream_transfer(mlp_run, mlp_run, steps=5)
    assert [r[0] for r in rows] == [str(d) for d in range(10)] + ["mean"]
    assert all(r[1] == r[2] and r[3] == r[4] for r in rows)  # the same model twice reads the same
