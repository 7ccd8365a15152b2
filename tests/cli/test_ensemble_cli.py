"""nnlab ensemble average --snapshots says why it cannot average a run that kept too few snapshots."""
import nnlab
from nnlab.cli.main import main


def test_snapshots_of_a_run_with_the_default_keep_last(tmp_path, capsys):
    cfg = {"name": "s", "data": {"dataset": "digits", "train_size": 200}, "model": {"name": "mlp", "hidden": [8]},
           "train": {"epochs": 2}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False).dir  # keep_last 1: one snapshot, the newest
    assert main(["ensemble", "average", str(run), "--snapshots"]) == 2
    err = capsys.readouterr().err
    assert "--snapshots found 1 epoch-N snapshot(s)" in err and "keep_last" in err and err.count("\n") == 1
