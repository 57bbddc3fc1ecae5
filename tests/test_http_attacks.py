"""What an attack on a running instance tried, through the real HTTP pipeline: compressed bodies,
connections held open, malformed requests and huge signed fields. Each costs the server little and
the log at most one short line. Log output is read through bot.logs.configure(), as deployed."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import hmac
import io
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import http_parser

from bot.logs import configure
from bot.settings import PROJECT_DIR
from devtools.signing import interaction_body
from devtools.standin import SlackStandIn
from tests.conftest import SECRET, TOKEN, Harness, dm_event, post_event_to
from tests.test_cli import free_port
from tests.test_shutdown import _wait_up

MARKER = "SECRET-MEMBER-TEXT"


@contextlib.contextmanager
def configured_log(level: str = "INFO") -> Iterator[io.StringIO]:
    """The process's logging as app.py sets it up, written to a string; put back as it was after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    touched = {name: logging.getLogger(name).level for name in ("aiohttp.access", "slack_sdk")}
    stream = io.StringIO()
    configure(level, [TOKEN, SECRET], stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level_before in touched.items():
            logging.getLogger(name).setLevel(level_before)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    with configured_log() as stream:
        yield stream


def _lines(stream: io.StringIO, start: int = 0) -> list[str]:
    return stream.getvalue()[start:].splitlines()


def _port(harness: Harness) -> int:
    return int(harness.url.rsplit(":", 1)[1])


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Reads until the server closes the connection; True once it has."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    return True


# --- 1. compressed strangers ---


@pytest.fixture
def inflations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every decompressor aiohttp's parser builds for a request body (its C parser uses the same class)."""
    built: list[str] = []
    original = http_parser.DeflateBuffer.__init__

    def spy(self: Any, out: Any, encoding: str | None, *args: Any, **kwargs: Any) -> None:
        built.append(str(encoding))
        original(self, out, encoding, *args, **kwargs)

    monkeypatch.setattr(http_parser.DeflateBuffer, "__init__", spy)
    return built


def _signed_bytes(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def _event_json() -> bytes:
    from devtools.signing import event_body

    return event_body(dm_event(text=MARKER), "EvZIP0001").encode()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(_event_json())),
        ("deflate", zlib.compress(_event_json())),
        ("br", b"\x0b\x02\x80" + _event_json()),  # not valid brotli either
        ("gzip", b"\x1f\x8b\x08\x00corrupt" + MARKER.encode() * 100),
        ("deflate", b"not deflate at all " + MARKER.encode()),
        ("GZip", gzip.compress(b"x" * 1_000_000)),  # 1 MB of zeros would be 1 KB on the wire
        ("x-snappy", b"whatever"),
        ("gzip, identity", gzip.compress(_event_json())),
    ],
)
@pytest.mark.parametrize("signed", [False, True])
async def test_a_compressed_body_is_refused_415_without_being_inflated(
    harness: Harness, log_stream: io.StringIO, inflations: list[str], encoding: str, body: bytes, signed: bool
) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    if signed:  # Slack signs the bytes as sent; a signature over the compressed bytes changes nothing
        headers.update(_signed_bytes(body))
    status, _ = await harness.post_raw(body, headers)
    assert status == 415
    assert inflations == []  # no CPU spent inflating anything
    lines = _lines(log_stream)
    assert len(lines) <= 1 and all(MARKER not in line and len(line) < 200 for line in lines), lines
    await harness.settle(0)
    await harness.dm("key points")  # and Slack's own requests are still answered
    await harness.posts(1)


async def test_identity_encoding_is_still_served(harness: Harness) -> None:
    status, _ = await harness.event(dm_event(), **{"Content-Encoding": "identity"})
    assert status == 200
    await harness.posts(1)


# --- 2. connections held open ---


async def test_an_idle_connection_is_closed(harness: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(harness))
    try:
        assert await asyncio.wait_for(_closed_by_server(reader), 20)
    finally:
        writer.close()


async def test_a_connection_trickling_its_headers_is_closed(harness: Harness) -> None:
    """Slowloris: a byte of headers every few tenths of a second, never finishing them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(harness))

    async def trickle() -> None:
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
        try:
            while True:
                writer.write(b"X")
                await writer.drain()
                await asyncio.sleep(0.3)
        except (ConnectionError, RuntimeError):
            pass

    sender = asyncio.create_task(trickle())
    try:
        assert await asyncio.wait_for(_closed_by_server(reader), 20)
    finally:
        sender.cancel()
        writer.close()


async def test_a_kept_alive_connection_is_reused_then_closed_when_idle(harness: Harness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(harness))
    try:
        for _ in range(2):  # keep-alive still works for a client that uses it promptly
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert b" 200 " in await asyncio.wait_for(reader.readline(), 10)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
            await reader.readexactly(length)
        assert await asyncio.wait_for(_closed_by_server(reader), 20)
    finally:
        writer.close()


async def test_an_unwanted_body_is_not_read_for_long_after_the_answer(harness: Harness) -> None:
    """A refused request whose body never finishes: answered at once, then the connection is closed
    after a short linger instead of aiohttp's default ten seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(harness))
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                 b"Content-Length: 100000\r\n\r\n\x1f\x8b")  # fmt: skip
    await writer.drain()
    try:
        assert b" 415 " in await asyncio.wait_for(reader.readline(), 5)
        assert await asyncio.wait_for(_closed_by_server(reader), 8)
    finally:
        writer.close()


# --- 3. malformed requests: at most one short line each, no traceback ---

MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n",  # garbage as a second request
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n" + MARKER.encode(),
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    b"POST /slack/events HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /" + MARKER.encode() + b"\x00\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("raw", MALFORMED)
async def test_a_malformed_request_costs_at_most_one_short_line(
    harness: Harness, log_stream: io.StringIO, raw: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(harness))
    writer.write(raw)
    await writer.drain()
    try:
        first = await asyncio.wait_for(reader.readline(), 10)
        assert first == b"" or b" 4" in first.split(b"\r\n")[0] or b" 200 " in first  # never a 5xx
        await asyncio.wait_for(_closed_by_server(reader), 20)
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    lines = _lines(log_stream)
    assert len(lines) <= 1, lines
    assert all("Traceback" not in line and MARKER not in line and len(line) < 300 for line in lines), lines


async def test_a_client_leaving_mid_body_costs_at_most_one_short_line(
    harness: Harness, log_stream: io.StringIO
) -> None:
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", _port(harness))
        writer.write(b'POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"type":')
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
    await asyncio.sleep(0.5)
    lines = _lines(log_stream)
    assert len(lines) <= 3, lines
    assert all("Traceback" not in line and "ERROR" not in line for line in lines), lines
    await harness.dm("key points")
    await harness.posts(1)


# --- 4. Bolt echoing signed payload fields ---


def _suggestion(value: str) -> str:
    return interaction_body({"type": "block_suggestion", "action_id": "a1", "block_id": "b1", "value": value,
                             "user": {"id": "U1"}, "team": {"id": "T0000001"}, "api_app_id": "A1"})  # fmt: skip


def _dialog(text: str) -> str:
    return interaction_body({"type": "dialog_submission", "callback_id": "c1", "submission": {"q": text},
                             "user": {"id": "U1"}, "team": {"id": "T0000001"}, "channel": {"id": "C1"}})  # fmt: skip


@pytest.mark.parametrize("build", [_suggestion, _dialog])
async def test_a_huge_signed_field_never_reaches_the_log(harness: Harness, log_stream: io.StringIO, build: Any) -> None:
    body = build(MARKER + "x" * 900_000)
    status, _ = await harness.post_signed(body, "application/x-www-form-urlencoded")
    assert status < 500
    await asyncio.sleep(0.2)
    text = log_stream.getvalue()
    assert MARKER not in text
    assert len(text) < 2000, text[:500]
    assert all(len(line) < 400 for line in text.splitlines())


async def test_a_long_third_party_line_is_clipped_to_one_line(log_stream: io.StringIO) -> None:
    for name in ("slack_bolt.App", "slack_sdk.web", "aiohttp.server", "asyncio", "bot.bolt", "bot.socket"):
        try:
            raise ValueError("boom " + "y" * 5000)
        except ValueError:
            logging.getLogger(name).exception("failed: %s\nsecond line", "z" * 5000)
    lines = _lines(log_stream)
    assert len(lines) == 6, lines
    assert all(len(line) < 400 and "Traceback" not in line for line in lines), lines
    assert all("ValueError" in line for line in lines), [line[-150:] for line in lines]


async def test_our_own_errors_keep_their_traceback(log_stream: io.StringIO) -> None:
    try:
        raise ValueError("ours")
    except ValueError:
        logging.getLogger("bot.events").exception("listener failed")
    assert "Traceback" in log_stream.getvalue()


async def test_a_flood_of_one_error_is_rate_limited(log_stream: io.StringIO) -> None:
    for _ in range(500):
        try:
            raise OSError(24, "Too many open files")
        except OSError as exc:
            asyncio.get_running_loop().call_exception_handler(
                {"message": "socket.accept() out of system resource", "exception": exc}
            )
    lines = _lines(log_stream)
    assert 1 <= len(lines) <= 2, lines
    assert "out of system resource" in lines[0] and "Traceback" not in log_stream.getvalue()


async def test_the_request_line_is_still_json(harness: Harness, log_stream: io.StringIO) -> None:
    await harness.dm("key points")
    await harness.posts(1)
    await asyncio.sleep(0.1)
    [line] = [line for line in _lines(log_stream) if "bot.requests" in line]
    assert json.loads(line.split("bot.requests ", 1)[1])["outcome"] == "answered"


# --- 2b. the file-descriptor limit, on app.py as deployed ---


def _spawn_app(standin: SlackStandIn, port: int, log_path: Path, nofile: tuple[int, int]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": standin.api_url,
                "PORT": str(port), "SHUTDOWN_GRACE_SECONDS": "2"})  # fmt: skip
    with log_path.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stderr=sink,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile),
        )  # fmt: skip


async def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.05)
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc/<pid>/limits")
async def test_start_up_raises_the_open_files_soft_limit_to_the_hard_one(standin: SlackStandIn, tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("needs a finite hard limit above 256")
    port = free_port()
    proc = _spawn_app(standin, port, tmp_path / "app.log", (256, hard))
    try:
        await _wait_up(port)
        [line] = [
            x for x in Path(f"/proc/{proc.pid}/limits").read_text().splitlines() if x.startswith("Max open files")
        ]
        assert line.split()[3:5] == [str(hard), str(hard)]
    finally:
        await _stop(proc)


async def test_connections_past_the_fd_limit_cost_a_few_log_lines(standin: SlackStandIn, tmp_path: Path) -> None:
    """At the limit accept() fails; asyncio logs that with a traceback each time it retries. The log
    stays a few short lines, and once the idle connections are closed Slack's requests are answered."""
    port, log_path = free_port(), tmp_path / "app.log"
    proc = _spawn_app(standin, port, log_path, (80, 80))
    held: list[asyncio.StreamWriter] = []
    try:
        await _wait_up(port)
        for _ in range(150):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                held.append(writer)
            except OSError:
                break
        await asyncio.sleep(4)  # accept() failing, retried every second
        for writer in held:
            writer.close()
        assert await asyncio.wait_for(post_event_to(port, dm_event(), "EvFDLIMIT1"), 20) == 200
        await standin.wait_for("chat.postMessage", 1, timeout=10)
    finally:
        for writer in held:
            writer.close()
        await _stop(proc)
    text = log_path.read_text()
    assert "out of system resource" in text
    assert "Traceback" not in text, text[-2000:]
    flood = [line for line in text.splitlines() if "out of system resource" in line]
    assert 1 <= len(flood) <= 2, flood
    assert all(len(line) < 400 for line in text.splitlines())
