"""Model options are checked against their builder's annotations before any data is read."""
import pytest

from nnlab.errors import ConfigError
from nnlab.models import MODELS, check_option_types


@pytest.mark.parametrize("name, options, message", [
    ("mlp", {"hidden": 64}, "'model.hidden' got 64, expected list or nothing"),
    ("mlp", {"hidden": [16, "wide"]}, r"'model.hidden' got \[16, 'wide'\], expected list"),
    ("mlp", {"dropout": "half"}, "'model.dropout' got 'half', expected float"),
    ("knn", {"k": 2.5}, "'model.k' got 2.5, expected int"),
])
def test_wrong_option_types_are_config_errors(name, options, message):
    with pytest.raises(ConfigError, match=message):
        check_option_types(name, options)


def test_right_types_and_unknown_annotations_pass():
    check_option_types("mlp", {"hidden": [8, 4], "dropout": 0, "weights": "x.pt"})  # int for float; transfer key
    for name in MODELS.names():  # every builder's annotations resolve or are skipped, never crash
        check_option_types(name, {})
