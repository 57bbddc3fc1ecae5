"""What a Procfile platform does with this repository, done here.

The buildpack copies the checkout (the slug; the project itself is never pip-installed), creates a
Python 3.11 environment (`.python-version`), runs `pip install -r requirements.txt` (hash-checked,
since every line has hashes) and nothing else, then runs the Procfile's `release` line once per deploy
and its `web` (or `worker`) line. The tests below do exactly that in a fresh venv, against the local
Slack stand-in, so what members get from a deploy is what was tested. The locks themselves are checked
against pyproject.toml without the network.

A dev-only package imported at run time fails here: the fresh venv holds requirements.txt and pip,
nothing else (checked against the lock), every import statement in app.py, bot/ and intents/ (lazy
ones inside functions too) must resolve there, every module must import, and the processes must start
and answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.question_log_sql import POSTGRES_STEPS
from bot.settings import PROJECT_DIR
from devtools.signing import signed_headers
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, HEALTH_TOKEN, RESPONSES, SECRET, TOKEN
from tests.test_cli import free_port
from tests.test_events import _all_text
from tests.test_slack_corpus import encode, fixture

RUNTIME_LOCK = PROJECT_DIR / "requirements.txt"
DEV_LOCK = PROJECT_DIR / "requirements-dev.txt"
PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
# What the platform leaves out of the slug, as .gitignore does: caches, environments, local data.
NOT_IN_SLUG = (".git", ".venv", ".cache", ".data", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
               ".hypothesis", ".mypy_cache", "build")  # fmt: skip
# pip settings that say how to reach the index; every other PIP_* variable and the machine's pip config
# (mirrors, find-links, constraints) is left out, as on the platform.
PIP_REACH = ("PIP_CERT", "PIP_CLIENT_CERT", "PIP_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_PROXY", "PIP_DEFAULT_TIMEOUT")
APP_TOKEN = "xapp-1-A0000001-deploy"


def pins(lock: Path) -> dict[str, str]:
    """name -> exact version, for every package a lock installs."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", lock.read_text(encoding="utf-8"), re.M)
    return {canonicalize_name(name): version for name, version in found}


def procfile() -> dict[str, str]:
    lines = (PROJECT_DIR / "Procfile").read_text(encoding="utf-8").splitlines()
    return {kind.strip(): command.strip() for kind, command in (line.split(":", 1) for line in lines if line.strip())}


def process(kind: str) -> str:
    return procfile()[kind]


# --- the locks, without the network ---


def test_the_locks_hold_what_pyproject_asks_for_with_hashes() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    direct = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    dev_only = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
    for req in direct:
        name = canonicalize_name(req.name)
        assert name in runtime, f"{req.name} is in pyproject.toml but not in requirements.txt: run make lock"
        assert req.specifier.contains(runtime[name]), f"requirements.txt pins {name}=={runtime[name]}, not {req}"
    for req in dev_only:
        name = canonicalize_name(req.name)
        assert name in dev, f"{req.name} is in the dev extra but not in requirements-dev.txt: run make lock"
        assert req.specifier.contains(dev[name]), f"requirements-dev.txt pins {name}=={dev[name]}, not {req}"
        assert name not in runtime, f"dev-only {name} is in requirements.txt, which the platform installs"
    # One resolution: what the tests ran (the dev lock) is what the platform installs.
    assert {n: dev[n] for n in runtime} == runtime
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        text = lock.read_text(encoding="utf-8")
        entries = re.findall(r"^(\S+==\S+)((?: \\\n +--hash=sha256:[0-9a-f]{64})*)$", text, re.M)
        assert len(entries) == len(pins(lock))
        assert [pin for pin, hashes in entries if not hashes] == [], f"{lock.name}: pins without hashes"


def test_the_python_version_agrees_everywhere() -> None:
    pinned = (PROJECT_DIR / ".python-version").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"3\.\d+", pinned), "the buildpack reads a major.minor version"
    assert PYPROJECT["project"]["requires-python"] == f">={pinned},<3.{int(pinned.split('.')[1]) + 1}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == pinned, "the tests run on another Python"
    assert "# by the following command" in RUNTIME_LOCK.read_text(encoding="utf-8")
    assert f"with Python {pinned}" in RUNTIME_LOCK.read_text(encoding="utf-8")


def test_the_procfile_runs_the_bot_and_its_release_steps() -> None:
    assert procfile().keys() == {"web", "worker", "release"}
    assert process("web") == "python app.py"
    assert process("worker") == "python app.py --socket-mode"
    assert process("release") == "python -m bot check && python -m bot migrate"


# --- the platform's install, in a fresh venv ---


@dataclass
class Platform:
    slug: Path
    venv: Path
    install_seconds: float

    def env(self, **config: str) -> dict[str, str]:
        """A dyno's environment: the venv first on PATH, the config vars, nothing from this test run."""
        base = {"PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.slug), "LANG": "C.UTF-8"}
        return base | {"HEALTH_TOKEN": HEALTH_TOKEN} | config

    def run(self, kind: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """One Procfile line, through a shell as the platform runs it."""
        return subprocess.run(["bash", "-c", process(kind)], cwd=self.slug, env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip

    async def start(self, kind: str, env: dict[str, str]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            "bash", "-c", f"exec {process(kind)}", cwd=self.slug, env=env, stderr=asyncio.subprocess.PIPE
        )


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({k: os.environ[k] for k in PIP_REACH if k in os.environ})
    env["PIP_CONFIG_FILE"] = os.devnull  # no machine or user pip config
    return env


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("platform")
    slug = root / "app"
    shutil.copytree(PROJECT_DIR, slug, ignore=shutil.ignore_patterns(*NOT_IN_SLUG))
    venv = root / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_pip_env())
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # The downloads come from the index (pip's own cache makes a second run quick); every file is checked
    # against the lock's hashes.
    install = subprocess.run([*pip, "install", "--require-hashes", "-r", "requirements.txt"], cwd=slug,
                             env=_pip_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    # Python 3.11's venv brings setuptools along; a platform need not, so the bot must not lean on it.
    subprocess.run([*pip, "uninstall", "--yes", "setuptools"], check=True, env=_pip_env(), capture_output=True)
    yield Platform(slug, venv, time.monotonic() - started)


SCAN = r"""
import ast, importlib, importlib.util, json, pathlib, sys
files = [pathlib.Path("app.py"), *sorted(pathlib.Path("bot").rglob("*.py")), *sorted(pathlib.Path("intents").rglob("*.py"))]
unresolved, failed = [], []
for path in files:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        unresolved += [f"{path}:{node.lineno}: {n}" for n in names if importlib.util.find_spec(n.split(".")[0]) is None]
for path in files:
    module = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed.append(f"{module}: {exc!r}")
print(json.dumps({"unresolved": unresolved, "failed": failed}))
"""


def test_the_platform_installs_the_runtime_lock_and_nothing_else(platform: Platform) -> None:
    listed = subprocess.run(
        [str(platform.venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True, env=_pip_env(),
    )  # fmt: skip
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    assert installed == pins(RUNTIME_LOCK) | {"pip": installed["pip"]}
    assert set(pins(DEV_LOCK)) - set(installed) >= {"pytest", "hypothesis", "mypy", "ruff", "psutil", "pip-tools"}
    # So any import of a dev-only package, anywhere in the bot's code, has nothing to find here.
    scan = subprocess.run([str(platform.venv / "bin" / "python"), "-c", SCAN], cwd=platform.slug,
                          env=platform.env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout) == {"unresolved": [], "failed": []}


@pytest.fixture
async def database_url(postgres_url: str) -> Any:
    """A PostgreSQL schema of its own (the release step creates it), as a platform's database add-on:
    the question log's driver, asyncpg, is then used from the runtime lock."""
    import asyncpg

    schema = f"deploy_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f'drop schema if exists "{schema}" cascade')
    finally:
        await conn.close()


def _config(standin: SlackStandIn, **extra: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": standin.api_url, **extra}


async def test_a_release_on_a_dyno_without_a_database_warns_that_the_log_will_not_last(
    platform: Platform, standin: SlackStandIn
) -> None:
    """No DATABASE_URL: the log is a SQLite file on the dyno's disk (here, the slug's own .data/)."""
    done = await asyncio.to_thread(platform.run, "release", platform.env(**_config(standin, DYNO="release.1")))
    assert done.returncode == 0, done.stdout + done.stderr
    [warning] = done.stderr.splitlines()
    assert warning.startswith("warning: DATABASE_URL is not set") and "lost at every restart" in warning


async def test_release_checks_the_content_then_migrates(platform: Platform, standin: SlackStandIn,
                                                        database_url: str, tmp_path: Path) -> None:  # fmt: skip
    env = platform.env(**_config(standin, DATABASE_URL=database_url))
    done = await asyncio.to_thread(platform.run, "release", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("question log schema up to date: PostgreSQL ")
    assert done.stdout.strip().endswith(f", schema version {POSTGRES_STEPS[-1][0]}") and done.stderr == ""
    # A broken content file stops the release before the migration, so the deploy never goes live.
    broken = tmp_path / "responses.yaml"
    broken.write_text(RESPONSES.read_text(encoding="utf-8").replace("intents:", "intents: [", 1), encoding="utf-8")
    env = platform.env(**_config(standin, DATABASE_URL=database_url, RESPONSES_PATH=str(broken)))
    refused = await asyncio.to_thread(platform.run, "release", env)
    assert refused.returncode != 0
    assert f"{broken}:" in refused.stdout and "schema up to date" not in refused.stdout
    # An unreachable database stops it too, in one line.
    env = platform.env(**_config(standin, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none"))
    down = await asyncio.to_thread(platform.run, "release", env)
    assert down.returncode == 1
    assert down.stderr.count("\n") == 1 and down.stderr.startswith("error: cannot reach the question log:")


async def _wait_healthy(port: int, proc: asyncio.subprocess.Process, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, "the process exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS) as resp:
                    if resp.status == 200:
                        body: dict[str, Any] = await resp.json()
                        return body
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("/healthz never answered 200")


async def _stop(proc: asyncio.subprocess.Process) -> str:
    """SIGTERM, as the platform stops a dyno: exit 0, and the log it wrote."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    return (await proc.stderr.read()).decode()  # type: ignore[union-attr]


async def test_web_answers_healthz_and_a_signed_mention(platform: Platform, standin: SlackStandIn,
                                                        database_url: str) -> None:  # fmt: skip
    port = free_port()
    proc = await platform.start("web", platform.env(**_config(standin, PORT=str(port), DATABASE_URL=database_url)))
    try:
        health = await _wait_healthy(port, proc)
        assert health["ok"] is True and health["intents"] > 0
        payload = fixture("event_app_mention.json")
        body, content_type = encode(payload, standin.response_url())
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                 headers=signed_headers(SECRET, body, content_type=content_type)) as resp:  # fmt: skip
                assert resp.status == 200
        [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1, timeout=10)]
        event = payload["body"]["event"]
        assert (post["channel"], post["thread_ts"]) == (event["channel"], event["ts"])
        assert "key points" in _all_text(post).lower()
    finally:
        log = await _stop(proc)
    # The request log: one JSON line per request, never the member's text.
    [line] = [json.loads(x.split(" bot.requests ", 1)[1]) for x in log.splitlines() if " bot.requests " in x]
    assert line["event_id"] == payload["body"]["event_id"] and line["intent"] == "key_points"
    assert "key points" not in log.lower() and "Traceback" not in log


async def test_worker_runs_socket_mode_and_refuses_to_start_without_it(platform: Platform,
                                                                       standin: SlackStandIn) -> None:  # fmt: skip
    no_token = await asyncio.to_thread(platform.run, "worker", platform.env(**_config(standin)), 60)
    assert no_token.returncode == 2
    assert no_token.stderr.splitlines() == [
        "error: SLACK_APP_TOKEN is not set: --socket-mode (the Procfile's worker) needs the app-level token, xapp-..."
    ]
    port = free_port()  # a worker gets no routed port; /healthz still answers inside the dyno
    config = _config(standin, SLACK_APP_TOKEN=APP_TOKEN, PORT=str(port), DATABASE_URL="sqlite:///.data/worker.db")
    del config["SLACK_SIGNING_SECRET"]
    proc = await platform.start("worker", platform.env(**config))
    try:
        await standin.wait_for("socket.connect", 1, timeout=60)
        await _wait_healthy(port, proc)
        envelope = fixture("socket_events_api.json")["body"]
        await standin.socket_send(envelope)
        [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1, timeout=10)]
        event = envelope["payload"]["event"]
        assert (post["channel"], post["thread_ts"]) == (event["channel"], event["ts"])
    finally:
        log = await _stop(proc)
    assert "connected to Slack in Socket Mode" in log and "Traceback" not in log
