"""Tasks: one module per kind of problem. Each registers itself in ``TASKS``; this package imports them
explicitly, so grep finds every task."""
from nnlab.tasks.base import TASKS, Task, TaskData
from nnlab.tasks import classify, detect, generate, rl, segment, sequence  # noqa: F401  (registers the tasks)

__all__ = ["TASKS", "Task", "TaskData"]
