"""The model registries, one per task, each builder a function registered where it is defined.

``MODELS``: classifiers; every builder takes ``num_classes``, ``in_chans`` and ``input_size`` (H, W), plus its
own options by keyword. ``DETECTORS``: the ``model.name`` of a ``task: detect`` config; builders take
``classes`` (K, 0-based labels, no background) plus their own options. The detector modules register
themselves when ``nnlab.models.detection`` is imported (the detect task does so when it is used)."""
import types
import typing
from typing import Any, Literal, Union

from torch import nn

from nnlab.config import coerce
from nnlab.registry import Registry

MODELS: Registry[nn.Module] = Registry("model")
DATA_ARGS = ("num_classes", "in_chans", "input_size")
DETECTORS: Registry[nn.Module] = Registry("detector")


def check_option_types(name: str, options: dict[str, Any], registry: Registry[nn.Module] = MODELS) -> None:
    """Check each option of model ``name`` against its builder's annotation (``model.hidden: 64`` where a list
    of widths is expected), so a wrong type is a config error before any data is read, not a TypeError deep
    in the builder. Annotations config values cannot take (tuples, modules) are left to the builder."""
    builder = registry.get(name)
    try:
        hints = typing.get_type_hints(builder.__init__ if isinstance(builder, type) else builder)
    except Exception:  # an annotation that cannot be resolved: nothing to check against
        return
    for key, value in options.items():
        if key in hints and _checkable(hints[key]):
            coerce(value, hints[key], f"model.{key}")


def _checkable(tp: Any) -> bool:
    if tp in (int, float, str, bool, type(None), Any) or typing.get_origin(tp) is Literal:
        return True
    if typing.get_origin(tp) in (list, dict, Union, types.UnionType):
        return all(_checkable(a) for a in typing.get_args(tp))
    return False
