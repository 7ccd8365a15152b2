from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.runs import image_files, make_detect_run, make_mask_run, make_run, make_segment_run, photo_files


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("mlp"), "mlp")


@pytest.fixture(scope="session")
def lenet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("lenet"), "lenet")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return image_files(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def detect_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_detect_run(tmp_path_factory.mktemp("detect"))


@pytest.fixture(scope="session")
def mask_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mask_run(tmp_path_factory.mktemp("mask"))


@pytest.fixture(scope="session")
def segment_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_segment_run(tmp_path_factory.mktemp("segment"))


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_files(tmp_path_factory.mktemp("photos"))
