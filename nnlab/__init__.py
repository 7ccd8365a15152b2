"""nnlab: a deep-learning lab and workbench for images, on PyTorch.

    import nnlab
    run = nnlab.fit("configs/classify/digits_mlp.yaml")
    nnlab.evaluate(run.dir)
    nnlab.predict(run.dir, ["digit.png"])
"""
from nnlab.api import Run, build_model, fit, read_meta
from nnlab.inference import evaluate, list_runs, load_run, play, predict
from nnlab.optim import build_optimizer
from nnlab.deploy import export_run as export  # after the API it uses
from nnlab.sampling import frechet, interpolate, sample, traverse

__all__ = ["Run", "build_model", "build_optimizer", "evaluate", "fit", "list_runs", "load_run", "play", "predict",
           "read_meta"]
__all__ += ["export", "frechet", "interpolate", "sample", "traverse"]
__version__ = "0.1.0"
