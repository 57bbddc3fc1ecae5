"""Staff teach the bot in Slack (Teach, in the staff App Home): a label goes into the question log's
database, and every instance sharing that database retrains on it.

The instance where staff clicked Save retrains at once; every other instance asks the database every
LABEL_POLL_SECONDS whether the labels changed (one cheap query) and retrains when they did. A training
that fails keeps the model in service (/healthz says so). `python -m bot labels export` later writes
the labels into responses.yaml as examples, so git keeps the record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.content import Label
from bot.question_log import StoredLabel
from bot.safety import taught_text
from bot.services import Services
from bot.timeouts import BACKGROUND_STORE_SECONDS, bounded

log = logging.getLogger("bot.teaching")


def as_training(labels: Sequence[StoredLabel]) -> list[Label]:
    return [(label.text, label.intent) for label in labels if label.active]


async def teach(services: Services, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
    """Store one label per text (intent None = off-topic) made by Slack user `staff`, and retrain this
    instance's model now (other instances pick it up by polling). Returns the label ids. Raises
    ValueError for an unknown intent id; any other exception means the question log is out of reach
    (nothing stored)."""
    if intent is not None and services.content.current.catalogue.get(intent) is None:
        raise ValueError(f"no intent '{intent}'")
    # Exactly what staff were shown of each question: never a tail of it they could not see.
    texts = list(dict.fromkeys(t for t in map(taught_text, texts) if t))
    store = services.recorder.store
    ids = await bounded(store.labels.add(texts, intent, staff), BACKGROUND_STORE_SECONDS)
    services.staff_views.clear()
    # Who, what and when; never the questions' text.
    log.info(
        "taught: %d question(s) as %s by %s (labels %s)",
        len(ids),
        intent or "off-topic",
        services.recorder.member_hash(staff)[:12],
        ",".join(map(str, ids)),
    )
    await refresh(services)
    return ids


async def refresh(services: Services) -> str:
    """Read the labels and retrain with them; returns the labels' version it trained on."""
    store = services.recorder.store
    version = await bounded(store.labels.version(), BACKGROUND_STORE_SECONDS)
    labels = await bounded(store.labels.read(), BACKGROUND_STORE_SECONDS)
    await services.content.set_labels(as_training(labels))
    return version


async def watch_labels(services: Services, interval: float) -> None:
    """Retrain whenever the labels in the database change. Runs until cancelled."""
    seen: str | None = None
    failing = False
    while True:
        try:
            version = await bounded(services.recorder.store.labels.version(), BACKGROUND_STORE_SECONDS)
            if version != seen:
                seen = await refresh(services) if version else version
            failing = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database out of reach, or not migrated yet: try again next time
            # Before this instance's schema migration has run, a fresh database has no labels table: not
            # worth a warning (the question log's own health says when the database is out of reach).
            if not failing and services.recorder.migrated:
                log.warning("labels not read (%s); the model in service stays", type(exc).__name__)
                failing = True
        await asyncio.sleep(interval)
