"""The documented bench commands still start: each script imports what it shares through the
`bench` package (no sys.path edits) and answers --help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "script", ["faults.py", "run.py", "flood.py", "signin_flood.py", "report.py"]
)
def test_the_script_answers_help(script: str) -> None:
    # The repository root first, as the editable install puts it for a checkout's own venv.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {script}")
