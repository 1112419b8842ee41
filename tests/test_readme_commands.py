"""The README's quick start is exactly `make demo` and `make test`, and they work from a clean clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quick start has a sh code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


class TestQuickStart:
    """The README gives exactly two commands, and CI runs the same test command."""

    def test_two_commands(self) -> None:
        assert _quick_start_commands() == ["make demo", "make test"]

    def test_ci_runs_make_test(self) -> None:
        script = (ROOT / ".ci" / "run").read_text()
        assert re.search(r"^make test\s*$", script, re.M)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
class TestCleanClone:
    """`make demo` on a fresh clone sets everything up and writes the warehouse and the dashboard."""

    def test_make_demo_from_clean_clone(self, tmp_path: Path) -> None:
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JOURNEY_"))}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
        demo = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        assert "data/warehouse/journey.duckdb" in demo.stdout
        assert "reports/2026-10-31/index.html" in demo.stdout
        assert (clone / "data" / "warehouse" / "journey.duckdb").is_file()
        assert (clone / "reports" / "2026-10-31" / "index.html").is_file()
        # `make test` is the command running this very test; check it is wired, not recurse.
        dry = subprocess.run(["make", "-n", "test"], cwd=clone, env=env, capture_output=True, text=True)
        assert dry.returncode == 0 and "pytest" in dry.stdout
