import numpy as np
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.optim.playground import FUNCTIONS, race, race_lr, run_one
from nnlab.optim.race_figures import contour_png, race_gif, race_table


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_minima_are_minima(name):
    fn = FUNCTIONS[name]
    for x, y in fn.minima:
        value = fn.fn(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
        assert float(value) == pytest.approx(fn.min_value, abs=1e-4)
    sx, sy = fn.start
    assert float(fn.fn(torch.tensor(sx), torch.tensor(sy))) > fn.min_value + 1e-3


def test_race_paths_start_together_and_lbfgs_solves_rosenbrock():
    results = race("rosenbrock", ["sgd", "adam", "lbfgs"], steps=30)
    assert [r.name for r in results] == ["sgd", "adam", "lbfgs"]
    for r in results:
        assert np.allclose(r.path[0], FUNCTIONS["rosenbrock"].start) and len(r.path) == len(r.losses) == 31
        assert r.losses[-1] < r.losses[0]
    assert results[2].steps_to_tol is not None and np.allclose(results[2].path[-1], [1.0, 1.0], atol=1e-3)


def test_sgd_path_is_gradient_descent():
    fn = FUNCTIONS["ill_conditioned"]
    r = run_one(fn, "sgd", 3, lr=0.01)
    w = torch.tensor(fn.start, dtype=torch.float64, requires_grad=True)
    for _ in range(3):
        (g,) = torch.autograd.grad(fn.fn(w[0], w[1]), w)
        w = (w - 0.01 * g).detach().requires_grad_()
    assert np.allclose(r.path[-1], w.detach().numpy())


def test_divergence_is_reported():
    r = run_one(FUNCTIONS["rosenbrock"], "sgd", 50, lr=0.1)
    assert r.diverged and len(r.path) < 51 and r.steps_to_tol is None


def test_race_learning_rates_and_bad_input():
    fn = FUNCTIONS["beale"]
    assert race_lr("sgd", fn) == fn.lr_sgd and race_lr("adam", fn) == fn.lr_adaptive
    assert race_lr("lbfgs", fn) == 1.0
    assert race("beale", ["adam"], 2, {"adam": 0.3})[0].lr == 0.3
    with pytest.raises(ConfigError, match="valid names: rosenbrock"):
        race("himalaya", ["sgd"])
    with pytest.raises(ConfigError, match="Valid names"):
        race("beale", ["sgd", "adamx"])
    with pytest.raises(ConfigError, match="not racing"):
        race("beale", ["sgd"], lrs={"adam": 0.1})


def test_figures_and_table(tmp_path):
    fn = FUNCTIONS["saddle"]
    results = race("saddle", ["sgd", "rmsprop"], steps=20)
    header, rows = race_table(fn, results, 1e-3)
    assert header[0] == "optimizer" and [r[0] for r in rows] == ["sgd", "rmsprop"]
    assert contour_png(fn, "saddle", results, tmp_path / "s.png").stat().st_size > 10_000
    gif = race_gif(fn, "saddle", results, tmp_path / "s.gif", frames=3)
    from PIL import Image
    assert Image.open(gif).n_frames == 3
