"""The staff guide's commands all run, and its error table names messages the code really produces."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import yaml

from bot.settings import PROJECT_DIR

GUIDE = (PROJECT_DIR / "docs" / "editing-responses.md").read_text(encoding="utf-8")
README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


def _shell_commands(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "command", [c for c in _shell_commands(GUIDE) + _shell_commands(README) if c.startswith(".venv/bin/python")]
)
def test_every_command_shown_runs(command: str) -> None:
    args = shlex.split(command)
    args[0] = sys.executable  # the same interpreter as this test run's .venv
    result = subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_guide_yaml_samples_are_valid_yaml() -> None:
    for block in re.findall(r"```yaml\n(.*?)```", GUIDE, re.DOTALL):
        yaml.safe_load(block)


def test_every_message_in_the_error_table_exists_in_the_code() -> None:
    source = "\n".join(
        p.read_text(encoding="utf-8") for d in ("intents", "bot") for p in (PROJECT_DIR / d).rglob("*.py")
    )
    rows = re.findall(r"^\| `([^`]+)`", GUIDE, re.MULTILINE)
    assert len(rows) >= 15
    for fragment in rows:
        assert fragment in source, fragment
