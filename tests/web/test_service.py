"""The workbench's own pieces: confusion report (against scikit-learn), store, sessions, zip unpacking."""
from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from nnlab.errors import UserError
from nnlab.web.auth import session_token_id, sign_session
from nnlab.web.datasets import PathError, confine, unpack_zip
from nnlab.web.service import confusion_report
from nnlab.web.store import Store, hash_token


def test_confusion_report_matches_sklearn():
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c", "d"]
    truth = [classes[i] for i in rng.integers(0, 4, 200)]
    pred = [classes[i] for i in rng.integers(0, 3, 200)]  # "d" is never predicted: precision 0 by convention
    rep = confusion_report(classes, truth, pred)
    assert rep["confusion"] == confusion_matrix(truth, pred, labels=classes).tolist()
    prec = precision_score(truth, pred, labels=classes, average=None, zero_division=0)
    rec = recall_score(truth, pred, labels=classes, average=None, zero_division=0)
    assert [rep["per_class"][c]["precision"] for c in classes] == pytest.approx(prec)
    assert [rep["per_class"][c]["recall"] for c in classes] == pytest.approx(rec)
    assert rep["accuracy"] == pytest.approx(np.mean(np.array(truth) == np.array(pred)))
    with pytest.raises(UserError, match="not known to the model: z"):
        confusion_report(classes, ["z"], ["a"])


def test_store_keeps_only_token_hashes(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    token = store.create_token("t")
    assert store.check_token(token) and not store.check_token(token + "x")
    assert (tmp_path / "db.sqlite").read_bytes().find(hash_token(token).encode()) >= 0
    assert token.encode() not in (tmp_path / "db.sqlite").read_bytes()
    assert "hash" not in store.tokens()[0]
    assert store.secret() == Store(f"sqlite:///{tmp_path / 'db.sqlite'}").secret()  # kept across restarts


def test_claim_job_is_atomic_and_metrics_replace_later_epochs(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    job = store.add_job("j", {}, None)
    assert store.claim_job(job, 123) and not store.claim_job(job, 456)
    for epoch in (1, 2, 3):
        store.add_metrics(job, epoch, {"loss": float(epoch)})
    store.add_metrics(job, 2, {"loss": 9.0})  # a resumed run redoes epoch 2 onwards
    assert store.metrics(job) == [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 9.0}]
    assert store.job(2**70) is None


def test_sessions_are_signed_bound_to_their_token_and_expire(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create_token("a")
    row = store.tokens()[0] | {"hash": store.token(1)["hash"]}
    cookie = sign_session("s", row, 0)
    assert session_token_id("s", store, cookie) == 1
    assert session_token_id("other", store, cookie) is None
    assert session_token_id("s", store, sign_session("s", row, 0, now=time.time() - 8 * 24 * 3600)) is None
    assert session_token_id("s", store, None) is None and session_token_id("s", store, "garbage") is None
    tid, gen, exp, sig = cookie.split(".")
    assert session_token_id("s", store, f"2.{gen}.{exp}.{sig}") is None  # another token's id: MAC fails
    assert store.end_sessions(1) == [1] and session_token_id("s", store, cookie) is None  # logout everywhere
    assert session_token_id("s", store, sign_session("s", row, store.session_generation(1))) == 1
    store.revoke_token(1)
    store.create_token("b")  # may reuse id 1 (SQLite rowid): the old session must not carry over
    assert session_token_id("s", store, sign_session("s", row, store.session_generation(1))) is None


def test_database_and_web_folder_are_private(settings):
    import stat

    from nnlab.web.service import Workbench

    settings.runs.mkdir(parents=True)
    (settings.runs / "web").mkdir(mode=0o755)  # as an older nnlab left them
    db = settings.runs / "web" / "workbench.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    Workbench(settings)
    assert stat.S_IMODE((settings.runs / "web").stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    other = settings.runs.parent / "fresh" / "wb.db"
    Workbench(type(settings)(runs=settings.runs, db_url=f"sqlite:///{other}", scheduler=False)).store.secret()
    assert stat.S_IMODE(other.stat().st_mode) == 0o600 and stat.S_IMODE(other.parent.stat().st_mode) == 0o700


def test_confine(tmp_path):
    (tmp_path / "a").mkdir()
    assert confine(tmp_path / "a" / "b", [tmp_path]) == (tmp_path / "a" / "b").resolve()
    for bad in [tmp_path / ".." / "x", "/", "a\x00b"]:
        with pytest.raises(PathError):
            confine(bad, [tmp_path / "a"])


def test_unpack_zip_refuses_links_and_uses_a_single_top_folder(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo("top/link")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(PathError, match="symbolic link"):
        unpack_zip(io.BytesIO(buf.getvalue()), tmp_path / "x", 10**6)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("top/c/1.png", b"x")
    assert unpack_zip(io.BytesIO(buf.getvalue()), tmp_path / "y", 10**6) == tmp_path / "y" / "top"


def test_a_generate_job_trains_but_classify_and_inspect_refuse_it(settings, tmp_path):
    """Jobs dispatch on the run's task: a reconstruction run has no classes to classify into."""
    import nnlab
    from nnlab.web.inspect import inspect_image
    from nnlab.web.service import Conflict, Workbench

    cfg = {"task": "generate", "data": {"dataset": "digits", "train_size": 64},
           "model": {"name": "autoencoder", "hidden": [8], "latent": 2}, "train": {"epochs": 1}}
    run = nnlab.fit(cfg, runs_root=tmp_path / "runs", progress=False)
    wb = Workbench(settings)
    job = wb.store.add_job("g", cfg, None)
    wb.store.update_job(job, run_dir=str(run.dir), status="completed")
    assert wb.job_view(job)["monitor"] == "val_loss"
    with pytest.raises(Conflict, match="generate model"):
        wb.classify(job, [tmp_path / "x.png"])
    with pytest.raises(UserError, match="generate run"):
        inspect_image(run.dir, tmp_path / "x.png")
