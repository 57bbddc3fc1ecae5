"""The layout's import rule (README, Layout), held by behaviour where it can be and by the import graph
where it cannot:

- app.py, and everything it and bot/ import, runs where `devtools` cannot be imported at all, as on a
  deploy with the dev tools folder deleted; `python -m bot run` (local mode) and `sandbox` then say so in
  one line and exit 2;
- intents/ imports nothing from bot/, devtools/ or Slack's and aiohttp's packages (the engine knows no
  Slack), and bot/ imports devtools only lazily, inside the CLI commands that start the dev tools.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.settings import PROJECT_DIR
from devtools.signing import signed_headers
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, SECRET, TOKEN
from tests.test_cli import free_port
from tests.test_slack_corpus import encode, fixture

# `python -c WITHOUT_DEVTOOLS TARGET ARGS...`: runs TARGET (a .py file, or a module as `python -m` does)
# in an interpreter where any import of devtools fails as if the folder were not there.
WITHOUT_DEVTOOLS = r"""
import importlib.abc, runpy, sys

class NoDevtools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "devtools" or name.startswith("devtools."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoDevtools())
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""

# Imports app.py and every module of bot/ (bot/__main__.py without running it), and reports which
# devtools modules got loaded: none may be.
IMPORT_ALL = r"""
import importlib, json, pathlib, sys
import app
for path in sorted(pathlib.Path("bot").rglob("*.py")):
    importlib.import_module(".".join(path.with_suffix("").parts).removesuffix(".__init__"))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "devtools")))
"""

SLACK_SIDE = {"bot", "devtools", "slack_bolt", "slack_sdk", "aiohttp"}


def _env(tmp_path: Path, **config: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PYTHON"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'questions.sqlite3'}"  # never the developer's .data/
    return env | config


def _without_devtools(*args: str) -> list[str]:
    return [sys.executable, "-c", WITHOUT_DEVTOOLS, *args]


def test_the_blocker_really_hides_devtools(tmp_path: Path) -> None:
    """The control for the tests below: in that interpreter, devtools cannot be imported."""
    probe = tmp_path / "probe.py"
    probe.write_text("import devtools\n", encoding="utf-8")
    done = subprocess.run(_without_devtools(str(probe)), cwd=PROJECT_DIR, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'devtools'" in done.stderr


def test_app_and_every_bot_module_import_without_devtools(tmp_path: Path) -> None:
    script = tmp_path / "import_all.py"
    script.write_text(IMPORT_ALL, encoding="utf-8")
    done = subprocess.run(_without_devtools(str(script)), cwd=PROJECT_DIR, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


async def _wait_healthy(port: int, proc: asyncio.subprocess.Process, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                stderr = await proc.stderr.read()  # type: ignore[union-attr]
                raise AssertionError(f"app.py exited {proc.returncode}: {stderr.decode()}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS) as resp:
                    if resp.status == 200:
                        body: dict[str, Any] = await resp.json()
                        return body
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("/healthz never answered 200")


async def test_app_serves_and_answers_a_mention_without_devtools(standin: SlackStandIn, tmp_path: Path) -> None:
    """What the Procfile's web process runs, with devtools unimportable: it starts, answers a signed
    mention through the Web API, and stops cleanly on SIGTERM."""
    port = free_port()
    env = _env(tmp_path, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.api_url,
               PORT=str(port))  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *_without_devtools("app.py"), cwd=PROJECT_DIR, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        health = await _wait_healthy(port, proc)
        assert health["ok"] is True and health["intents"] > 0
        payload = fixture("event_app_mention.json")
        body, content_type = encode(payload, standin.response_url())
        async with aiohttp.ClientSession() as http:
            headers = signed_headers(SECRET, body, content_type=content_type)
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers) as resp:
                assert resp.status == 200
        [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1, timeout=20)]
        event = payload["body"]["event"]
        assert (post["channel"], post["thread_ts"]) == (event["channel"], event["ts"])
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    log = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert code == 0, log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    ("command", "what"),
    [(["run"], "local mode (`run` without Slack credentials)"), (["sandbox", "--port", "0"], "the sandbox")],
)
def test_the_dev_commands_say_in_one_line_when_devtools_is_missing(
    command: list[str], what: str, tmp_path: Path
) -> None:
    done = subprocess.run(_without_devtools("bot", *command), cwd=PROJECT_DIR, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {what} needs the developer tools (devtools/ beside bot/), which this checkout lacks"
    ]


# --- the import graph ---


def _imports(tree: ast.AST, *, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for each import; with top_level_only, those run when the module is
    imported (module and class bodies, if/try blocks), not those inside functions."""
    found: list[tuple[int, str]] = []
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        todo += ast.iter_child_nodes(node)
    return found


def _parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_engine_imports_nothing_from_slack_or_the_bot() -> None:
    files = sorted((PROJECT_DIR / "intents").rglob("*.py"))
    assert files
    wrong = [
        f"{path.relative_to(PROJECT_DIR)}:{line}: {module}"
        for path in files
        for line, module in _imports(_parse(path), top_level_only=False)
        if module.split(".")[0] in SLACK_SIDE
    ]
    assert wrong == []


def test_the_service_imports_devtools_only_lazily_in_the_cli() -> None:
    """bot/ never imports devtools, except inside the functions of bot/__main__.py that start local
    mode and the sandbox; app.py never does."""
    wrong = []
    for path in [PROJECT_DIR / "app.py", *sorted((PROJECT_DIR / "bot").rglob("*.py"))]:
        cli = path == PROJECT_DIR / "bot" / "__main__.py"
        for line, module in _imports(_parse(path), top_level_only=cli):
            if module.split(".")[0] == "devtools":
                wrong.append(f"{path.relative_to(PROJECT_DIR)}:{line}: {module}")
    assert wrong == []


def test_the_question_log_is_handed_what_it_needs() -> None:
    """The question log's modules know nothing of the operator's settings or of Block Kit: services.py
    reads DATABASE_URL and the secrets and hands them over, and learn.py gets the command names."""
    question_log = ["question_log.py", "question_log_sql.py", "question_log_sqlite.py", "question_log_postgres.py",
                    "recorder.py", "learn.py"]  # fmt: skip
    wrong = [
        f"bot/{name}:{line}: {module}"
        for name in question_log
        for line, module in _imports(_parse(PROJECT_DIR / "bot" / name), top_level_only=False)
        if module in ("bot.settings", "bot.services", "bot.blocks", "bot.app", "bot.server")
        or module.startswith(("bot.listeners", "slack_bolt", "slack_sdk"))
    ]
    assert wrong == []


def test_the_import_checks_see_lazy_and_nested_imports() -> None:
    """The walker above finds imports at every depth, and skips only function bodies when asked."""
    tree = ast.parse(
        "import a\nif x:\n    from b.c import d\nclass K:\n    import e\n"
        "def f():\n    import devtools.local\n    from g import h\n"
    )
    assert sorted(m for _, m in _imports(tree, top_level_only=True)) == ["a", "b.c", "e"]
    assert sorted(m for _, m in _imports(tree, top_level_only=False)) == ["a", "b.c", "devtools.local", "e", "g"]


def test_the_environment_is_read_only_in_bot_settings() -> None:
    """Every other module, the command line, app.py and local mode included, is handed settings."""
    wrong = []
    for path in [PROJECT_DIR / "app.py", *sorted(PROJECT_DIR.glob("bot/**/*.py")),
                 *sorted(PROJECT_DIR.glob("intents/*.py")), *sorted(PROJECT_DIR.glob("devtools/**/*.py"))]:  # fmt: skip
        if path == PROJECT_DIR / "bot" / "settings.py":
            continue
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                wrong.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}: os.{node.attr}")
    assert wrong == []


def test_no_store_interface_has_more_than_twelve_methods() -> None:
    """The question log is split by concern: every store class and protocol (the database, each part,
    each dialect's, the discarding one) has at most 12 methods, private ones counted."""
    sizes = {}
    for name in ("question_log.py", "question_log_sql.py", "question_log_sqlite.py", "question_log_postgres.py",
                 "recorder.py", "state.py", "state_redis.py", "limits.py"):  # fmt: skip
        for node in ast.walk(_parse(PROJECT_DIR / "bot" / name)):
            if isinstance(node, ast.ClassDef) and (
                node.name.endswith("Store")
                or any(isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases)
                or name.startswith("question_log_")
            ):
                methods = [f for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
                sizes[f"{name}:{node.name}"] = len(methods)
    assert {"question_log.py:QuestionStore", "question_log_sqlite.py:SQLiteStore"} <= set(sizes)
    assert {k: n for k, n in sizes.items() if n > 12} == {}
