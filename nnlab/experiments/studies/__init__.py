"""The claims lab: each study tests one claim of the notes with numbers. Add a study: a module that
registers itself with ``@STUDIES.register("name")``, imported here (one line)."""
from nnlab.experiments.studies import batch_size, ensemble, init_activation, optimizers, search  # noqa: F401
from nnlab.experiments.studies import (  # noqa: F401
    autoencoder_pretraining, bptt, detection_history, detector_peers, explain, neck, one_vs_two_stage, regularization,
    transfer, upsampling, vanishing_gradients,
)
from nnlab.experiments.studies import pixel_models, replay  # noqa: F401
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, run_study

__all__ = ["STUDIES", "StudyContext", "StudyReport", "run_study"]
