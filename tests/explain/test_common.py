"""What every explanation checks first: the run's task, image files and channels, the target class."""
from __future__ import annotations

import pytest

from nnlab.errors import UserError
from nnlab.explain.common import check_image_channels, check_target, open_classifier


def test_runs_of_other_tasks_get_a_clear_not_yet_or_why_not(tmp_path):
    (tmp_path / "meta.json").write_text('{"task": "detect", "classes": ["a"]}')
    with pytest.raises(UserError, match="works on classify runs; .* is a 'detect' run \\(explaining detect runs "
                                        "this way is not built yet\\)"):
        open_classifier(tmp_path, "explain max-patches")
    (tmp_path / "meta.json").write_text('{"task": "segment", "classes": ["a"]}')
    with pytest.raises(UserError, match="works on classify, detect runs; .* is a 'segment' run \\(its classes "
                                        "belong to pixels.*--pixel-class C"):
        open_classifier(tmp_path, "explain embed", ("classify", "detect"))
    with pytest.raises(UserError, match="does not exist"):
        open_classifier(tmp_path / "nope")


def test_channels_and_targets_are_checked(digit_pngs):
    check_image_channels(digit_pngs[0], 1, "r")
    with pytest.raises(UserError, match="has 1 channel\\(s\\) \\(L\\) but run r takes 3-channel images; .* RGB"):
        check_image_channels(digit_pngs[0], 3, "r")
    assert check_target(None, ["a", "b"]) is None and check_target(1, ["a", "b"]) == 1
    with pytest.raises(UserError, match="target class -1 is out of range: the run has 2 classes \\(0=a, 1=b\\)"):
        check_target(-1, ["a", "b"])
