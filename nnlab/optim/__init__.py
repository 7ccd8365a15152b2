"""Optimizers and learning-rate schedules as data (timm style): tables of entries, one builder each."""
from nnlab.optim.factory import OPTIMIZERS, OptimizerEntry, build_optimizer, check_options
from nnlab.optim.groups import param_groups
from nnlab.optim.schedules import SCHEDULES, ScheduleEntry, build_scheduler, check_schedule, lr_curve

__all__ = ["OPTIMIZERS", "OptimizerEntry", "SCHEDULES", "ScheduleEntry", "build_optimizer", "build_scheduler",
           "check_options", "check_schedule", "lr_curve", "param_groups"]
