"""CI cannot pass without the browser test: under CI=true a missing chromium fails, it does not skip."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _browser_test(**env):
    env = {k: v for k, v in {**os.environ, "PYTHONPATH": str(ROOT), **env}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/web/test_browser.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_missing_chromium_fails_under_ci():
    r = _browser_test(CI="true", NNLAB_CHROMIUM="/nonexistent/chromium")
    assert r.returncode == 1 and "CI=true, so the only browser test must run" in r.stdout, r.stdout
    assert "/nonexistent/chromium is absent" in r.stdout  # (without CI it skips with that reason, as before)


def test_ci_script_stops_without_chromium(tmp_path):
    r = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "NNLAB_CHROMIUM": "/nonexistent/chromium",
                                        "PATH": "/usr/bin:/bin", "CI": "true"})
    assert r.returncode == 1 and "CI needs chromium" in r.stderr, r.stderr
