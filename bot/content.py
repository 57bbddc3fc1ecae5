"""The content in service: one validated catalogue, its engine and renderer, swapped whole on reload.

A reload builds everything new first and swaps one reference at the end, so a request in flight
keeps the Content it started with and a file that fails validation never replaces the good one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from slack_sdk.errors import SlackObjectFormationError

from bot.blocks import CHECKED, Renderer, limit_problems
from bot.cache import cache_key, cached, code_digest
from bot.command_names import Commands
from bot.settings import PROJECT_DIR
from intents import Answer, Catalogue, ContentError, Problem
from intents.loader import iter_texts, read_content
from intents.model import TEXT_PLACEHOLDERS
from intents.training import LabelledQuestion, training_files
from intents.validate import Validation, validate, validate_text

if TYPE_CHECKING:
    from intents.engine import Engine

log = logging.getLogger("bot.content")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# Built content, reused across restarts while the file and the code that builds it are unchanged. The
# code is all of it (bot/ and intents/), never a hand-kept list of the modules thought to matter: a change
# anywhere rebuilds, which costs a validation, since the fitted model is kept apart (intents/classifier.py).
CONTENT_CACHE: Path | None = PROJECT_DIR / ".cache"
_BUILDER_CODE = code_digest([*(PROJECT_DIR / "intents").rglob("*.py"), *(PROJECT_DIR / "bot").rglob("*.py")])


def _versions() -> list[str]:
    """What else shapes a build besides our code: Python and the libraries whose objects it holds."""
    import numpy
    import scipy
    import sklearn
    import slack_sdk.version

    return [sys.version, yaml.__version__, slack_sdk.version.__version__, sklearn.__version__, numpy.__version__,
            scipy.__version__]  # fmt: skip


@dataclass(frozen=True)
class Content:
    catalogue: Catalogue
    engine: Engine
    renderer: Renderer


_WHOLE_LINE_BOLD = re.compile(r"\*[^*]+\*")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{0,40})\}")


class SlackRendering:
    """The check bot/ adds to the validation pipeline: every intent rendered as Slack will get it
    (Slack's limits, slack_sdk's element checks) and every {placeholder} known. The renderer it fills
    then serves those replies ready-made."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.renderer: Renderer | None = None

    def __call__(self, catalogue: Catalogue) -> list[Problem]:
        self.renderer = renderer = Renderer(catalogue, self.commands)
        path = str(catalogue.path)
        problems = []
        for where, line, text in iter_texts(catalogue):
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) not in (*Commands.PLACEHOLDERS, CHECKED.strip("{}")):
                    known = " and ".join(f"{{{name}}}" for name in Commands.PLACEHOLDERS)
                    problems.append(
                        Problem(path, line, 5, f"{where}: unknown placeholder '{match.group(0)}'; use {known}, "
                                f"or {CHECKED} for the day the answer was last checked (its `reviewed:`)")
                    )  # fmt: skip
        texts = catalogue.settings.texts
        for name, allowed in (
            (f.name, TEXT_PLACEHOLDERS.get(f.name, ())) for f in dataclasses.fields(texts) if f.metadata
        ):
            for match in _PLACEHOLDER.finditer(getattr(texts, name)):
                if match.group(1) not in allowed:
                    known = " and ".join(f"{{{a}}}" for a in allowed) or "none"
                    problems.append(
                        Problem(path, texts.line_of(name), 5,
                                f"settings.texts.{name}: unknown placeholder '{match.group(0)}'; it may use {known}")
                    )  # fmt: skip
        for intent in catalogue.intents:
            first_line = intent.summary.strip().split("\n")[0].strip()
            if _WHOLE_LINE_BOLD.fullmatch(first_line):
                problems.append(
                    Problem(path, intent.line_of("summary"), 5,
                            f"intent '{intent.id}' field 'summary': starts with a heading line ({first_line}); the "
                            "answer already shows the title as its heading, so start with the text itself", "warning")
                )  # fmt: skip
            limits = limit_problems(intent, self.commands)
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
        return problems


def validate_file(path: Path, commands: Commands, *, advice: bool = True) -> Validation:
    """The one validation of a content file that `python -m bot check`, start-up and reload all run.
    `advice`: with the model's advice to editors (warnings only); what only needs to know whether the
    file passes (learn, labels export) leaves it out."""
    return validate(path, [SlackRendering(commands)], advice_cache=CONTENT_CACHE, advice=advice)


def new_engine(catalogue: Catalogue) -> Engine:
    """The model for a catalogue: scikit-learn is imported here, the first time one is built."""
    from intents.engine import Engine

    # Fitted models are kept in the cache folder by what they learnt from: any process, at any path, with
    # the same examples, training files and labels, reuses one (a reload of unchanged training data too).
    return Engine(catalogue, CONTENT_CACHE)


def build_content(path: Path, commands: Commands) -> Content:
    """The validated content ready to serve; raises ContentError naming every error. Served from the
    cache when this file, at this path, was built by this same code before: the same input through the
    same code gives the same result, so nothing is skipped that could have come out differently."""
    text = read_content(path)

    def build() -> Content:
        rendering = SlackRendering(commands)
        result = validate_text(text, path, [rendering], advice=False)
        if result.catalogue is None or rendering.renderer is None:
            raise ContentError(result.errors)
        for warning in result.warnings:
            log.warning("%s", warning)
        return Content(result.catalogue, new_engine(result.catalogue), rendering.renderer)

    # The model learns from training/*.tsv too: a change there is a change of content.
    training = [part for f in training_files(path) for part in (f.name, f.read_bytes())]
    key = cache_key(text, str(path.resolve()), commands.messenger, commands.keypoints, *training, *_versions(),
                    code=_BUILDER_CODE)  # fmt: skip
    return cached(CONTENT_CACHE, key, build)


Label = tuple[str, str | None]  # a question staff taught (Teach) and its intent; None: off-topic
# A taught question counts as this many examples. One among the thousands the model learns from would
# not move it: the question staff taught still got the old answer. 5 was the least of 1, 5, 10 and 20
# that gave five taught questions (fallbacks and wrong answers) the intent staff chose.
LABEL_WEIGHT = 5.0


def with_labels(content: Content, labels: Sequence[Label]) -> tuple[Content, int]:
    """The content with a model trained also on staff's labels, and how many it learnt from: a label
    whose intent the file no longer has is left out. A label exported into the file as an example still
    counts: as an example it weighs one, and the question would drift back."""
    catalogue = content.catalogue
    known = {i.id for i in catalogue.intents}
    kept = [
        LabelledQuestion(text, intent, 0, "labels", LABEL_WEIGHT)
        for text, intent in dict.fromkeys(labels)
        if intent is None or intent in known
    ]
    if not kept:
        return content, 0
    taught = dataclasses.replace(catalogue, training=(*catalogue.training, *kept))
    return Content(taught, new_engine(taught), content.renderer), len(kept)


@dataclass(frozen=True)
class ModelInfo:
    """What /healthz says of the model in service."""

    labels: int  # staff's labels it learnt from
    trained_at: datetime.datetime
    error: str | None = None  # the last retraining that failed (the model before it stays in service)


class ContentHolder:
    """Holds the content in service and reloads it from disk when the file changes, or retrains it when
    staff's labels change; a build that fails keeps the content in service."""

    def __init__(self, path: Path, commands: Commands) -> None:
        self.path = path
        self.commands = commands
        self._base = self.current = build_content(path, commands)
        self._labels: tuple[Label, ...] = ()
        self.model = ModelInfo(0, _now())
        self._stamp = self._file_stamp()
        self._lock = asyncio.Lock()
        # The errors of the last reload, which kept the previous content; empty once a reload succeeds.
        self.problems: list[Problem] = []

    async def set_labels(self, labels: Sequence[Label]) -> bool:
        """Retrain with these labels (all of them, not only new ones). False, keeping the model in service,
        when training fails."""
        async with self._lock:
            labels = tuple(labels)
            try:
                content, n = await asyncio.to_thread(with_labels, self._base, labels)
            except Exception as exc:
                self.model = dataclasses.replace(self.model, error=type(exc).__name__)
                log.error("retraining with %d labels failed (%r); the model in service stays", len(labels), exc)
                return False
            self._labels, self.current = labels, content
            self.model = ModelInfo(n, _now())
            log.info("model retrained with %d staff label%s", n, "" if n == 1 else "s")
            return True

    def _file_stamp(self) -> tuple[tuple[int, int], ...] | None:
        """The content file's and each training file's (mtime, size): any change is a reload."""
        try:
            return tuple(
                (st.st_mtime_ns, st.st_size) for st in (p.stat() for p in (self.path, *training_files(self.path)))
            )
        except OSError:
            return None

    async def reload(self) -> list[Problem]:
        """Try to load the file now. Returns the errors (empty on success); on errors nothing changes."""
        async with self._lock:
            self._stamp = self._file_stamp()
            try:
                base = await asyncio.to_thread(build_content, self.path, self.commands)
                content, n = await asyncio.to_thread(with_labels, base, self._labels)
            except ContentError as exc:
                for problem in exc.problems:
                    log.error("content reload refused: %s", problem)
                self.problems = list(exc.problems)
                return exc.problems
            self._base, self.current = base, content
            self.model = ModelInfo(n, _now())
            self.problems = []
            log.info("content reloaded: %d intents from %s", len(content.catalogue.intents), self.path)
            return []

    async def reload_if_changed(self) -> None:
        """Reload when the file's modification stamp has changed since the last load. Returns once the
        content in service is the file's, a reload already under way (the watcher's) included."""
        stamp = self._file_stamp()
        if stamp is not None and stamp != self._stamp:
            await self.reload()
            return
        async with self._lock:  # reload() takes the new stamp first, then builds: wait for that build
            pass

    async def watch(self, interval: float) -> None:
        """Poll the file's modification stamp; reload when it changes. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.reload_if_changed()
