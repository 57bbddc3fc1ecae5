"""Request-level rules: unsigned or stale requests get 401, malformed ones 4xx, nothing is posted."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot import server
from devtools.signing import event_body, signed_headers
from tests.conftest import SECRET, Harness, dm_event


async def test_health_check(harness: Harness) -> None:
    async with harness.http.get(harness.url + "/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["ok"] is True


async def test_bad_signature_is_401(harness: Harness) -> None:
    body = event_body(dm_event(), "EvBAD1")
    headers = signed_headers("0" * 32, body)
    status, _ = await harness.post_raw(body, headers)
    assert status == 401
    await harness.settle(0)


async def test_missing_signature_is_401(harness: Harness) -> None:
    status, _ = await harness.post_raw(event_body(dm_event(), "EvBAD2"), {"Content-Type": "application/json"})
    assert status == 401
    await harness.settle(0)


async def test_stale_timestamp_is_401(harness: Harness) -> None:
    body = event_body(dm_event(), "EvBAD3")
    headers = signed_headers(SECRET, body, timestamp=int(time.time()) - 6 * 60)
    status, _ = await harness.post_raw(body, headers)
    assert status == 401
    await harness.settle(0)


async def test_tampered_body_is_401(harness: Harness) -> None:
    body = event_body(dm_event(), "EvBAD4")
    headers = signed_headers(SECRET, body)
    status, _ = await harness.post_raw(body.replace("key points", "recommendation 4"), headers)
    assert status == 401
    await harness.settle(0)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('{"type": "event_callback", "event": "a string"}', "application/json"),
        ('{"type": "event_callback", "event": {"type": "message", "text": 42}}', "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ('payload={"type":"block_actions","actions":"nope"}', "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
async def test_malformed_signed_bodies_are_4xx_not_500(harness: Harness, body: str, content_type: str) -> None:
    status, _ = await harness.post_signed(body, content_type)
    # 400 where Bolt cannot read it, 404 where no listener wants it, 200 where a listener ignores it.
    assert status < 500
    await harness.settle(0)
    # ...and the process keeps serving.
    await harness.dm("key points")
    await harness.posts(1)


async def test_a_body_that_is_not_utf8_is_refused(harness: Harness) -> None:
    raw = b"\xff\xfe{}"
    headers = signed_headers(SECRET, "{}")
    status, _ = await harness.post_raw(raw, headers)
    assert status == 401  # Slack only sends UTF-8, so such a body cannot carry a valid signature
    await harness.settle(0)


async def test_body_over_one_megabyte_is_413(harness: Harness) -> None:
    event = dm_event()
    event["text"] = "x" * (1024 * 1024 + 10)
    body = event_body(event, "EvBIG")
    status, _ = await harness.post_raw(body, signed_headers(SECRET, body))
    assert status == 413
    await harness.settle(0)


async def test_unknown_event_types_are_4xx(harness: Harness) -> None:
    status, _ = await harness.event({"type": "reaction_added", "user": "U1", "reaction": "tada"})
    assert 400 <= status < 500
    await harness.settle(0)


async def test_url_verification_challenge(harness: Harness) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    status, text = await harness.post_signed(body)
    assert status == 200
    assert "abc123" in text


@pytest.mark.parametrize(
    "text",
    ["recommendation 4 " * 2353,  # 40,000 characters, Slack's maximum
     "😀🎉👍" * 300, "<@U1> <!here> <#C1|general> <https://x.org|x>" * 50, "Какие рекомендации? 推荐是什么？",
     "\x00\x01\x07\x1b[31m key points \u202e\u200b", ""],
)  # fmt: skip
async def test_strange_questions_get_a_valid_reply(harness: Harness, text: str) -> None:
    status, _, _ = await harness.dm(text)
    assert status == 200
    [post] = await harness.posts(1)
    assert post["text"] and 1 <= len(post["blocks"]) <= 50
    for block in post["blocks"]:
        section = block.get("text")
        if isinstance(section, dict):
            assert len(section["text"]) <= 3000
    assert "<!here>" not in json.dumps(post) and "<@U1>" not in json.dumps(post)


# --- strangers: verify first, read second ---

MARKER = "SECRET-MEMBER-TEXT"


def _unsigned_bodies() -> list[tuple[bytes, dict[str, str]]]:
    big = event_body(dm_event(text=MARKER + " " + "x" * 400_000), "EvBIG4")
    forged_line = event_body(dm_event(text=f"hi\n2026-01-01 INFO bot.requests {MARKER} forged"), "EvNL")
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    stale = event_body(dm_event(text=MARKER), "EvSTALE")
    tampered = event_body(dm_event(text="key points"), "EvTAMP")
    return [
        (big.encode(), json_type),
        (forged_line.encode(), json_type),
        (b"{not json " + MARKER.encode(), json_type),
        (b"payload=%7Bbroken" + MARKER.encode(), form_type),
        (b"\xff\xfe" + MARKER.encode(), json_type),
        (b"", json_type),
        (stale.encode(), signed_headers(SECRET, stale, timestamp=int(time.time()) - 6 * 60)),
        (stale.encode(), signed_headers(SECRET, stale, timestamp=int(time.time()) + 6 * 60)),
        (tampered.replace("key points", MARKER).encode(), signed_headers(SECRET, tampered)),
        (stale.encode(), {**json_type, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + MARKER}),
    ]


async def test_unsigned_requests_of_any_shape_get_401_and_one_short_line_without_the_body(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = _unsigned_bodies()
    for raw, headers in bodies:
        caplog.clear()
        status, _ = await harness.post_raw(raw, headers)
        assert status == 401
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) <= 1, lines
        assert all(MARKER not in line and "\n" not in line and len(line) < 120 for line in lines), lines
    await harness.settle(0)


async def test_a_client_slow_to_send_its_body_is_cut_off(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "BODY_READ_SECONDS", 0.5)
    port = int(harness.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Headers as Slack sends them (fresh, a signature of the right shape), then a body that never ends.
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + _slack_shaped_headers() + b"Content-Length: 1000\r\n\r\n{\"type\":")  # fmt: skip
    await writer.drain()
    started = time.perf_counter()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b" 408 " in status_line
    assert time.perf_counter() - started < 3
    writer.close()


def _slack_shaped_headers(age: float = 0) -> bytes:
    timestamp = int(time.time() - age)
    return f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: v0={'0' * 64}\r\n".encode()


async def _status_of_a_promised_body(port: int, headers: bytes) -> tuple[bytes, float]:
    """Headers promising a megabyte, and not one byte of it: the status line, and how long it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n" + headers + b"Content-Length: 1000000\r\n\r\n")
    await writer.drain()
    started = time.perf_counter()
    try:
        return await asyncio.wait_for(reader.readline(), 5), time.perf_counter() - started
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (b"", "unsigned"),
        (_slack_shaped_headers(age=600), "stale"),
        (b"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: hello\r\n", "malformed"),
    ],
)
async def test_a_strangers_body_is_never_waited_for(harness: Harness, headers: bytes, why: str) -> None:
    """Without Slack's headers, or with a stale timestamp, the answer is 401 before the body: 50 such
    requests held open at once are all answered within a second."""
    port = int(harness.url.rsplit(":", 1)[1])
    started = time.perf_counter()
    results = await asyncio.gather(*(_status_of_a_promised_body(port, headers) for _ in range(50)))
    assert all(b" 401 " in line for line, _ in results), why
    assert time.perf_counter() - started < 1.0


@pytest.fixture
def four_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "READ_BUDGET_BYTES", 4 * 1_000_000 + 100_000)
    monkeypatch.setattr(server, "BODY_READ_SECONDS", 1.0)


async def test_slow_bodies_behind_fresh_headers_are_capped(four_reads: None, harness: Harness) -> None:
    """Forged fresh headers promising big bodies get them read only within a budget of bytes: the rest
    are refused at once (429), and Slack's small signed requests still fit beside them."""
    port = int(harness.url.rsplit(":", 1)[1])
    held = [asyncio.create_task(_status_of_a_promised_body(port, _slack_shaped_headers())) for _ in range(4)]
    await asyncio.sleep(0.3)
    line, took = await _status_of_a_promised_body(port, _slack_shaped_headers())
    assert b" 429 " in line and took < 0.5
    await harness.dm("what are the key points?")  # while the four are still held
    await harness.posts(1)
    assert all(b" 408 " in line for line, _ in await asyncio.gather(*held))


async def test_a_declared_body_over_the_limit_is_refused_unread(harness: Harness) -> None:
    port = int(harness.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)  # no byte of the body was sent
    assert b" 413 " in status_line
    writer.close()
