"""bench/load.py in small: three browser sessions on one server press Run on the same analysis at once.
They attach to one job (one computation) and every session gets its result.  No timed assertions."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import browser  # noqa: E402
import load  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not browser.available(), reason="needs /usr/bin/chromium and chromedriver")]


def test_three_sessions_share_one_computation_and_all_get_the_result(capsys):
    code = load.main(["--sessions", "3", "--epochs", "2", "--sentences", "150", "--no-solo", "--timeout", "600"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    many = report["many"]
    assert code == 0 and many["completed"] == 3 and not many["errors"], many
    assert many["server_tracebacks"] == 0 and many["runs_computed"] == 1
