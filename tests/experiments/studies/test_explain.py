"""The explain study's measurement on a tiny trained run: every method timed and sanity-checked."""
from __future__ import annotations

from nnlab.experiments.studies import STUDIES
from nnlab.explain.attribution import METHODS
from nnlab.experiments.studies.explain import measure
from tests.explain.conftest import mlp_run  # noqa: F401  (session fixture)

PIXEL_METHODS = tuple(m for m in METHODS if not m.startswith("gradcam"))  # an MLP has no feature maps


def test_measure_times_and_checks_every_method(mlp_run):
    assert "explain" in STUDIES.names()
    ms, sanity, labels, threads = measure(mlp_run, mlp_run, n=4, repeats=1, methods=PIXEL_METHODS)
    assert set(ms) == set(sanity) == set(labels) == set(PIXEL_METHODS) and all(v > 0 for v in ms.values())
    assert all(abs(r - 1.0) < 1e-9 for r in labels.values())  # the "shuffled" model is the same one here
    for s in sanity.values():
        assert s.layers == ["head", "features.0"] and len(s.correlations) == 2
        assert all(-1 <= r <= 1 for r in s.correlations)
    assert sanity["saliency"].passed  # plain gradients depend on the weights (Adebayo et al.)


def test_dream_transfer_reads_each_class_model_with_both_models(mlp_run):
    from nnlab.experiments.studies.explain import dream_transfer

    rows = dream_transfer(mlp_run, mlp_run, steps=5)
    assert [r[0] for r in rows] == [str(d) for d in range(10)] + ["mean"]
    assert all(r[1] == r[2] and r[3] == r[4] for r in rows)  # the same model twice reads the same


def test_train_shuffled_fits_the_same_config_on_shuffled_labels(tmp_path):
    from nnlab.experiments.studies.explain import train_shuffled
    from nnlab.experiments.studies.report import StudyContext
    from nnlab.inference import load_run

    cfg = {"name": "mlp", "seed": 0, "data": {"dataset": "digits", "train_size": 100}, "model": {"name": "mlp"},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 32}}
    run_dir, memorized = train_shuffled(StudyContext(tmp_path, log=lambda _m: None), cfg)
    run = load_run(run_dir)
    assert run.config.data.dataset == "cache" and run.config.model.name == "mlp" and run.config.train.epochs == 3
    assert 0.0 <= memorized <= 1.0
