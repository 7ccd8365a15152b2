"""The job page's per-task views: what a run of each task is about (detections beside their ground truth,
segmentation overlays, sample grids per epoch, the policy at work, generated text).

Each task has one small ``TaskView`` registered in ``VIEWS`` (its module below): the live charts it draws from
the per-epoch metrics, the template of its section, and ``results`` (figures and tables of a trained run,
computed once per checkpoint and cached in the run's ``web/`` folder) and ``live`` (cheap, on every load).
A task without a view gets the generic charts only.
"""
from nnlab.web.views.base import VIEWS, TaskView, section, view_for
from nnlab.web.views import detect, generate, rl, segment, sequence  # noqa: F401  (registers the views)

__all__ = ["VIEWS", "TaskView", "section", "view_for"]
