"""The Explain view: pick an image and a method, see the overlay; bad input is an error page."""
from __future__ import annotations

import base64
import io

from PIL import Image

from tests.explain.conftest import digit_pngs, mlp_run  # noqa: F401  (session fixtures)
from tests.web.conftest import PageClient


def test_explain_page_shows_an_overlay_and_refuses_bad_input(app, token, mlp_run, digit_pngs, monkeypatch):
    wb = app.state.wb
    monkeypatch.setattr(wb, "job", lambda job_id: {"id": job_id, "name": "digits"})
    monkeypatch.setattr(wb, "run_dir", lambda job_id: mlp_run)
    with PageClient(app) as c:
        c.login(token, "/jobs")
        page = c.get("/jobs/1/explain")
        assert page.status_code == 200 and 'name="csrf"' in page.text and "gradcam++" in page.text
        png = ("file", ("d.png", digit_pngs[0].read_bytes(), "image/png"))
        r = c.post("/jobs/1/explain", data={"method": "occlusion", "target": ""}, files=[png])
        assert r.status_code == 200 and 'id="overlay"' in r.text and "occlusion" in r.text
        b64 = r.text.split('id="overlay" src="data:image/png;base64,')[1].split('"')[0]
        assert Image.open(io.BytesIO(base64.b64decode(b64))).width > 100
        bad = c.post("/jobs/1/explain", data={"method": "gradcam", "target": ""}, files=[png])
        assert bad.status_code == 400 and "needs a layer with a spatial feature map" in bad.text
        assert c.post("/jobs/1/explain", data={"method": "saliency", "target": "x"}, files=[png]).status_code == 400
        c.csrf = "0" * 32  # a forged form is refused before any work
        assert c.post("/jobs/1/explain", data={"method": "saliency"}, files=[png]).status_code == 403
