"""Model tests run many small forward passes on one CPU thread (see ``one_thread`` in tests/conftest.py)."""
import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    yield
