"""The staff guide's commands all run, and its error table names messages the code really produces."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_DIR

GUIDE = (PROJECT_DIR / "docs" / "editing-responses.md").read_text(encoding="utf-8")
README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


def _shell_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]


@pytest.mark.parametrize("block", [b for b in _shell_blocks(GUIDE) + _shell_blocks(README) if b[0] != "make run"])
def test_every_command_shown_runs(block: list[str], tmp_path: Path) -> None:
    """Each block runs line by line, as a staff member would type it, in a copy of the project's content."""
    shutil.copy(PROJECT_DIR / "responses.yaml", tmp_path / "responses.yaml")
    (tmp_path / "tests" / "data").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "tests" / "data" / "blind.tsv", tmp_path / "tests" / "data" / "blind.tsv")
    shutil.copytree(PROJECT_DIR / "training", tmp_path / "training")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["RESPONSES_PATH"] = str(tmp_path / "responses.yaml")
    # A question log of its own: a command shown never reads or writes the developer's .data/.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    for command in block:
        if command.startswith("make "):
            continue  # the README's make targets are what CI itself runs
        args = shlex.split(command)
        if args[0] == ".venv/bin/python":
            args[0] = sys.executable  # the same interpreter as this test run's .venv
        result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, command + "\n" + result.stdout + result.stderr


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
