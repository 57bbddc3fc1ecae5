"""The content in service: one validated catalogue, its engine and renderer, swapped whole on reload.

A reload builds everything new first and swaps one reference at the end, so a request in flight
keeps the Content it started with and a file that fails validation never replaces the good one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from slack_sdk.errors import SlackObjectFormationError

from bot.blocks import Commands, Renderer, limit_problems
from bot.cache import cache_key, cached
from bot.safety import has_broadcast
from bot.settings import PROJECT_DIR
from intents import Answer, Catalogue, ContentError, Engine, Problem
from intents.loader import iter_strings, parse_catalogue, read_content

log = logging.getLogger("bot.content")
# Built content, reused across restarts while the file and the code that builds it are unchanged.
CONTENT_CACHE: Path | None = PROJECT_DIR / ".cache"
_BUILDER_CODE = [
    *(PROJECT_DIR / "intents").glob("*.py"),
    *(PROJECT_DIR / "bot" / n for n in ("blocks.py", "content.py", "safety.py")),
]


@dataclass(frozen=True)
class Content:
    catalogue: Catalogue
    engine: Engine
    renderer: Renderer


def render_problems(catalogue: Catalogue, commands: Commands, renderer: Renderer | None = None) -> list[Problem]:
    """Problems only visible once an intent is rendered: Slack's limits and stray broadcasts. Every
    intent's full answer is rendered in `renderer`, which then serves those replies ready-made."""
    renderer = renderer or Renderer(catalogue, commands)
    path = str(catalogue.path)
    problems = []
    for intent in catalogue.intents:
        limits = limit_problems(intent, commands)
        for name, message in limits:
            field_name = name.split(".")[0]
            problems.append(
                Problem(path, intent.line_of(name), 5, f"intent '{intent.id}' field '{field_name}': {message}")
            )
        if limits:
            continue
        answer = Answer.chosen(intent)
        try:
            # The layout has at most 8 blocks whatever the content, so Slack's 50-block limit cannot
            # be reached; building every answer still runs slack_sdk's own element checks.
            renderer.answer(answer, shareable=True)
            renderer.answer(answer)
        except SlackObjectFormationError as exc:
            problems.append(Problem(path, intent.line, 1, f"intent '{intent.id}': breaks a Slack limit: {exc}"))
            continue
    for text in iter_strings(catalogue):
        if has_broadcast(text):
            problems.append(
                Problem(path, 1, 1, f"text mentions people or channels, which is not allowed: {text[:60]!r}")
            )
    return problems


def _validate(text: str, path: Path, commands: Commands) -> tuple[Catalogue | None, Renderer | None, list[Problem]]:
    catalogue, problems = parse_catalogue(text, path)
    if catalogue is None:
        return None, None, problems
    renderer = Renderer(catalogue, commands)
    extra = render_problems(catalogue, commands, renderer)
    if extra:
        return None, None, problems + extra
    return catalogue, renderer, problems


def validate_file(path: Path, commands: Commands) -> tuple[Catalogue | None, list[Problem]]:
    """Full validation of a content file, as `python -m bot check`, start-up and reload all run it."""
    try:
        text = read_content(path)
    except ContentError as exc:
        return None, exc.problems
    catalogue, _, problems = _validate(text, path, commands)
    return catalogue, problems


def build_content(path: Path, commands: Commands) -> Content:
    """The validated content ready to serve; raises ContentError naming every problem. Served from the
    cache when this file, at this path, was built by this same code before."""
    text = read_content(path)

    def build() -> Content:
        catalogue, renderer, problems = _validate(text, path, commands)
        if catalogue is None or renderer is None:
            raise ContentError([p for p in problems if p.level == "error"])
        return Content(catalogue, Engine(catalogue), renderer)

    key = cache_key(text, str(path.resolve()), commands.messenger, commands.keypoints, code=_BUILDER_CODE)
    return cached(CONTENT_CACHE, key, build)


class ContentHolder:
    """Holds the content in service and reloads it from disk when the file changes."""

    def __init__(self, path: Path, commands: Commands) -> None:
        self.path = path
        self.commands = commands
        self.current = build_content(path, commands)
        self._stamp = self._file_stamp()
        self._lock = asyncio.Lock()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    async def reload(self) -> list[Problem]:
        """Try to load the file now. Returns the errors (empty on success); on errors nothing changes."""
        async with self._lock:
            self._stamp = self._file_stamp()
            try:
                content = await asyncio.to_thread(build_content, self.path, self.commands)
            except ContentError as exc:
                for problem in exc.problems:
                    log.error("content reload refused: %s", problem)
                return exc.problems
            self.current = content
            log.info("content reloaded: %d intents from %s", len(content.catalogue.intents), self.path)
            return []

    async def watch(self, interval: float) -> None:
        """Poll the file's modification stamp; reload when it changes. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            stamp = self._file_stamp()
            if stamp is not None and stamp != self._stamp:
                await self.reload()
