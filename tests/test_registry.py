import pytest

from nnlab.errors import UserError
from nnlab.registry import Registry


def test_register_build_names():
    reg = Registry("thing")

    @reg.register("b")
    def make_b(x: int = 1, *, y: int = 2):
        return ("b", x, y)

    reg.register("a")(lambda: "a")
    assert reg.names() == ["a", "b"]
    assert reg.build("b", x=3) == ("b", 3, 2)
    assert "a" in reg and "c" not in reg
    assert list(reg.options("b")) == ["x", "y"]


def test_duplicate_raises():
    reg = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a")(lambda: 2)


def test_unknown_lists_valid_names_and_suggests():
    reg = Registry("model")
    reg.register("lenet5")(lambda: 1)
    reg.register("mlp")(lambda: 1)
    with pytest.raises(UserError, match=r"unknown model 'lenet'.*Did you mean 'lenet5'.*lenet5, mlp"):
        reg.build("lenet")
