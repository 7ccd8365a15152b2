"""nnlab: a deep-learning lab and workbench for images, on PyTorch.

    import nnlab
    run = nnlab.fit("configs/classify/digits_mlp.yaml")
    nnlab.evaluate(run.dir)
    nnlab.predict(run.dir, ["digit.png"])
"""
from nnlab.api import Run, build_model, fit
from nnlab.inference import evaluate, list_runs, load_run, predict, sample
from nnlab.optim import build_optimizer
from nnlab.deploy import export_run as export  # after the API it uses

__all__ = ["Run", "build_model", "build_optimizer", "evaluate", "fit", "list_runs", "load_run", "predict", "sample"]
__all__ += ["export"]
__version__ = "0.1.0"
