"""The workbench's own pieces: confusion report (against scikit-learn), store, sessions, zip unpacking."""
from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from nnlab.errors import UserError
from nnlab.web.auth import sign_session, session_valid
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


def test_sessions_are_signed_and_expire():
    cookie = sign_session("s")
    assert session_valid("s", cookie)
    assert not session_valid("other", cookie)
    assert not session_valid("s", sign_session("s", now=time.time() - 8 * 24 * 3600))
    assert not session_valid("s", None) and not session_valid("s", "garbage")


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
