"""Smoke tests: the benchmarks still run (on a tiny scale), so they cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tmp_path, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "cerisepro.settings",
        "DEBUG": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_import_benchmark_prints_its_figures(tmp_path):
    out = run_bench(tmp_path, "import", "--students", "40", "--memory-students", "40")

    assert "lxml parse alone" in out
    assert "import, fresh" in out and "40 created" in out
    assert "re-import, 10 % changed" in out and "4 updated" in out
    assert "peak memory importing 40 students" in out
