"""Schema-driven fuzzing (schemathesis) of every API operation: no input may cause a server error."""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, given, settings as hsettings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from nnlab.web import routes_api  # noqa: E402

EXAMPLES = 10  # per operation: bounded, so the whole run takes seconds


def test_no_server_errors(app, folder, token, monkeypatch):
    monkeypatch.setattr(routes_api, "SSE_MAX_SECONDS", 0.5)  # streams of never-run jobs end quickly
    app.state.wb.add_folder("shapes", str(folder))  # so that id 1 exists for some generated cases
    app.state.wb.create_job("j", {"train": {"epochs": 1}}, (), 1)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:
        @given(case=op.as_strategy())
        @hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error])
        fuzz()
