from PIL import Image

from nnlab.optim.playground import FUNCTIONS, race
from nnlab.optim.race_figures import contour_png, race_gif, race_table


def test_figures_and_table(tmp_path):
    fn = FUNCTIONS["saddle"]
    results = race("saddle", ["sgd", "rmsprop"], steps=20)
    header, rows = race_table(fn, results, 1e-3)
    assert header[0] == "optimizer" and [r[0] for r in rows] == ["sgd", "rmsprop"]
    assert contour_png(fn, "saddle", results, tmp_path / "s.png").stat().st_size > 10_000
    gif = race_gif(fn, "saddle", results, tmp_path / "s.gif", frames=3)
    assert Image.open(gif).n_frames == 3
