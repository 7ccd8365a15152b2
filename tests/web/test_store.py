"""The job store: ids of deleted jobs are never handed out again (also in a database made before that rule)."""
import sqlalchemy as sa

from nnlab.web import store as store_mod
from nnlab.web.store import Store


def _ids(store):
    return [j["id"] for j in store.jobs()]


def test_deleted_job_ids_are_not_reused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    first = [store.add_job(f"j{i}", {"x": i}, None) for i in range(3)]
    store.delete_job(first[-1])
    new = store.add_job("next", {}, None)
    assert new not in first and new > max(first)
    store.delete_job(new)
    assert Store(f"sqlite:///{tmp_path / 'db.sqlite'}").add_job("after restart", {}, None) > new


def test_an_old_database_is_migrated_with_its_jobs(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old_meta = sa.MetaData()
    old_jobs = store_mod.jobs.to_metadata(old_meta)
    old_jobs.dialect_options["sqlite"]["autoincrement"] = False  # the table as main created it
    engine = sa.create_engine(url)
    old_meta.create_all(engine)
    with engine.begin() as c:
        assert "AUTOINCREMENT" not in c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name='jobs'").scalar()
        for i in (1, 2):
            c.execute(old_jobs.insert().values(id=i, name=f"j{i}", config={"i": i}, status="completed",
                                               resume=False, created="t"))
    store = Store(url)
    assert _ids(store) == [1, 2] and store.job(2)["config"] == {"i": 2} and store.jobs("completed")
    third = store.add_job("third", {}, None)
    store.delete_job(third)
    assert store.add_job("fourth", {}, None) == third + 1
    Store(url)  # a second start finds nothing to migrate
    assert _ids(Store(url)) == [1, 2, third + 1]
