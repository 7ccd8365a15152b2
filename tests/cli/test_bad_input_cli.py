"""Bad input on the command line: a non-zero exit, one readable line on stderr, no traceback, nothing created.

Every case here once crashed with a traceback, passed silently or said something misleading (issue 11)."""
import gzip
import importlib.util
import socket

import pytest
import torch
import yaml

from nnlab.cli.main import main
from tests.conftest import write_image_folder
from tests.deploy.runs import make_run

CONFIG = {"name": "c", "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [8]},
          "train": {"epochs": 1}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("trained"), "mlp")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with the inputs the cases need; the current folder, so default outputs would land here too."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "empty.yaml").write_text("# nothing but a comment\n")
    (tmp_path / "dup.yaml").write_text("name: c\ndata: {dataset: digits}\ntrain:\n  epochs: 1\n  epochs: 5\n")
    (tmp_path / "a-file").write_text("not a folder")
    write_image_folder(tmp_path / "imgs", {"dark": 3, "bright": 3}, size=(6, 6))
    write_image_folder(tmp_path / "mixed", {"dark": 2}, size=(6, 6))
    write_image_folder(tmp_path / "mixed", {"bright": 2}, size=(7, 5))
    write_image_folder(tmp_path / "one", {"only": 4}, size=(6, 6))
    for name in ("a", "b"):
        (tmp_path / "corrupt" / name).mkdir(parents=True)
        (tmp_path / "corrupt" / name / "x.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    _mnist_with_magic(tmp_path / "mnist", 2052)  # rank byte 4 in an images file
    return tmp_path


def _mnist_with_magic(root, magic):
    root.mkdir()
    for split, n in (("train", 4), ("t10k", 2)):
        images = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (n, 2, 2)) + bytes(4 * n)
        labels = (2049).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(n)
        (root / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (root / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


def _folder(path, **data):
    return ["c.yaml", "--data.dataset=folder", f"--data.path={path}",
            *(f"--data.{k}={v}" for k, v in data.items())]


CASES = {
    "int where a list is expected": (["train", "c.yaml", "--model.hidden=64"], "'model.hidden' got 64"),
    "image buffer beyond memory": (["train", *_folder("imgs", image_size="[300000,300000]")],
                                   "6 images of 1x300000x300000 from imgs need 502.9 GiB"),
    "empty YAML file": (["train", "empty.yaml"], "config file empty.yaml is empty"),
    "duplicate YAML key": (["train", "dup.yaml"], "duplicate key 'epochs' (first on line 4) (line 5"),
    "one-class folder": (["train", *_folder("one")], "one class folder (only)"),
    "one class selected": (["train", "c.yaml", "--data.classes=[3]"], "only one class ('3')"),
    "infinite lr": (["train", "c.yaml", "--optim.lr=inf"], "'optim.lr' must be positive and finite"),
    "nan lr": (["train", "c.yaml", "--optim.lr=.nan"], "'optim.lr' must be positive and finite"),
    "epochs beyond any run": (["train", "c.yaml", "--train.epochs=1000000000000"], "'train.epochs' must be"),
    "only corrupt images": (["train", *_folder("corrupt", image_size="null")],
                            "none of the 2 image files can be read (first: corrupt/a/x.png"),
    "wrong IDX magic": (["train", "c.yaml", "--data.dataset=mnist", "--data.path=mnist"],
                        "wrong magic number 2052 (0x00000804); expected 2051"),
    "--runs is a file (train)": (["train", "c.yaml", "--runs", "a-file"], "--runs a-file is a file"),
    "--runs is a file (runs)": (["runs", "--runs", "a-file"], "--runs a-file is a file"),
    "--out is a file": (["data", "build", "imgs", "--out", "a-file"], "--out a-file is a file"),
    "--out not empty, checked first": (["data", "build", "mixed", "--out", "full"], "--out full already exists"),
    "sizes differ without --size": (["data", "build", "mixed", "--out", "new"], "give --size HxW"),
    "token list on a missing folder": (["token", "list", "--runs", "nowhere"], "no workbench database at nowhere"),
    "--db without its driver": (["serve", "--db", "postgresql://u@localhost/db", "--port", "0", "--runs", "r"],
                                "needs the psycopg driver: pip install 'nnlab[search-db]'"),
    "--db not a URL SQLAlchemy knows": (["serve", "--db", "nosuch://x", "--port", "0", "--runs", "r"],
                                        "is not a database URL"),
}
if torch.cuda.is_available():
    CASES["device cuda without CUDA"] = None
else:
    CASES["device cuda without CUDA"] = (["train", "c.yaml", "--train.device=cuda"], "no CUDA GPU")


def _refused(capsys, root, argv, needle, before):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert "Traceback" not in err and err.startswith("nnlab: error: ") and err.count("\n") == 1, err
    assert needle in err, err
    assert {p for p in root.rglob("*")} == before  # no run folder, database or output file


@pytest.mark.parametrize("case", [k for k, v in CASES.items() if v is not None])
def test_bad_input_is_one_message_and_creates_nothing(work, capsys, case):
    argv, needle = CASES[case]
    if "psycopg" in needle and importlib.util.find_spec("psycopg"):
        pytest.skip("psycopg is installed here")
    _refused(capsys, work, argv, needle, set(work.rglob("*")))


@pytest.mark.parametrize("top", ["-3", "0"])
def test_predict_top_must_be_positive(trained, work, capsys, top):
    before = set(work.rglob("*")) | set(trained.rglob("*"))
    code = main(["predict", str(trained), str(next((work / "imgs" / "dark").iterdir())), "--top", top])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("nnlab: error: --top must be at least 1") and err.count("\n") == 1, err
    assert set(work.rglob("*")) | set(trained.rglob("*")) == before


def test_data_build_with_size_accepts_images_of_different_sizes(work, capsys):
    assert main(["data", "build", "mixed", "--out", "built", "--size", "4x4"]) == 0
    assert "train 4 images of 1x4x4, 2 classes" in capsys.readouterr().out


def test_image_buffer_is_checked_against_available_memory(work, capsys, monkeypatch):
    monkeypatch.setattr("nnlab.data.folder.available_memory", lambda: 1000)
    argv = ["data", "build", "imgs", "--out", "built", "--size", "20x20"]  # 6 x 400 bytes > 1000
    _refused(capsys, work, argv, "6 images of 1x20x20 from imgs need 0.0 GiB", set(work.rglob("*")))


def test_serve_on_a_taken_port_prints_no_banner(work, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = set(work.rglob("*"))
        code = main(["serve", "--port", str(port), "--runs", "r"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1
    assert set(work.rglob("*")) == before  # no database made for a server that never started


@pytest.mark.parametrize("lr, epochs, saved", [("1e20", 1, False), ("0.5", 3, True)])
def test_nan_stop_says_whether_a_checkpoint_exists(work, capsys, lr, epochs, saved):
    argv = ["train", "c.yaml", f"--optim.lr={lr}", f"--train.epochs={epochs}", "--runs", "r", "--quiet"]
    if saved:  # a run that diverges only after its first epoch's checkpoint
        argv += ["--optim.schedule.name=step", "--optim.schedule.stepsize=1", "--optim.schedule.gamma=1.0e+30"]
    code = main(argv)
    err = capsys.readouterr().err
    last = work / "r" / "classify" / "c-1" / "checkpoints" / "last.pt"
    assert code == 1 and "loss became" in err and "Traceback" not in err
    assert last.is_file() == saved
    assert ("checkpoint was kept" in err) == saved and ("No checkpoint" in err) != saved
