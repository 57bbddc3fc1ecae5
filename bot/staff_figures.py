"""The figures the staff Home and Teach show, gathered from the question log: the questions a day, the
week's rates against the week before, the least helpful answers and the groups of questions the bot
could not answer, each with its members' own picks. Reads are bounded in time and the counting runs in
a worker thread; bot/staff_home.py builds the views from what this hands it, and reads nothing itself.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.question_log import StoredQuestion, UnansweredGroup
from bot.report import group_questions, is_unanswered
from bot.safety import taught_text
from bot.services import Services
from bot.timeouts import REPLY_STORE_SECONDS, bounded

WINDOW_DAYS = 28  # the chart, the least helpful intents and the unanswered questions
RATE_DAYS = 7  # the rates: these days against the same number of days before
SHOWN_GROUPS = 8
LEAST_HELPFUL = 5
MAX_TAUGHT = 100  # distinct wordings one Save teaches at most (the most asked first)


def group_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Group:
    """A group of unanswered (or doubtful) questions: the report's group, its key for the Teach button,
    and its distinct wordings, the most asked first."""

    group: UnansweredGroup
    key: str
    texts: tuple[str, ...]
    asked: tuple[int, ...]  # how many members asked each wording
    # The members' own picks among the choices the bot offered them (a question back, "did you mean"):
    # (intent id, how many picked it), the most picked first.
    picked: tuple[tuple[str, int], ...] = ()

    def has_key(self, key: str) -> bool:
        return any(group_key(t) == key for t in self.texts)


@dataclass(frozen=True)
class Rates:
    questions: int = 0
    answered: int = 0
    fallback: int = 0
    handoffs: int = 0
    helpful: int = 0
    not_helpful: int = 0

    @property
    def votes(self) -> int:
        return self.helpful + self.not_helpful


@dataclass
class Dashboard:
    start: datetime.date  # the first day of the chart
    per_day: list[int] = field(default_factory=list)
    this_week: Rates = Rates()
    last_week: Rates = Rates()
    least_helpful: list[tuple[str, int, int]] = field(default_factory=list)  # intent id, not helpful, votes
    groups: list[Group] = field(default_factory=list)
    error: str | None = None  # why the figures are missing


def _utc(now: datetime.datetime | None) -> datetime.datetime:
    return now or datetime.datetime.now(datetime.UTC)


async def _read(services: Services, since: datetime.datetime) -> tuple[list[StoredQuestion], set[str]]:
    """The questions since `since` and the texts staff taught already (labels not undone)."""
    store = services.recorder.store
    async with asyncio.timeout(REPLY_STORE_SECONDS):
        questions = await store.questions.since(since)
        labelled = {label.text for label in await store.labels.read()}
    return questions, labelled


def _groups(
    services: Services, questions: Sequence[StoredQuestion], labelled: set[str], since: datetime.datetime
) -> list[Group]:
    """Runs in a worker thread: bounded by bot.report's limits however many questions there are."""
    asked = (
        (q.text, q.member_hash)
        for q in questions
        if q.text and q.at >= since and is_unanswered(q) and taught_text(q.text) not in labelled
    )
    picks: dict[str, Counter[str]] = {}
    for q in questions:
        if q.text and q.picked and q.at >= since:
            picks.setdefault(q.text, Counter())[q.picked] += 1
    out = []
    for grouped in group_questions(services.content.current.engine, asked, suggest=SHOWN_GROUPS):
        wordings = grouped.wordings[:MAX_TAUGHT]
        texts = tuple(w.text for w in wordings)
        picked: Counter[str] = Counter()
        for wording in grouped.wordings:
            picked.update(picks.get(wording.text, Counter()))
        asked_by = tuple(len(w.members) for w in wordings)
        out.append(Group(grouped.group, group_key(grouped.group.text), texts, asked_by, tuple(picked.most_common())))
    return out


async def unanswered_groups(services: Services, now: datetime.datetime | None = None) -> list[Group]:
    """The groups of the last WINDOW_DAYS, as the log holds them now. Raises when the log is out of reach."""
    now = _utc(now)
    since = now - datetime.timedelta(days=WINDOW_DAYS)
    questions, labelled = await _read(services, since)
    questions = [q for q in questions if q.at <= now]
    return await asyncio.to_thread(_groups, services, questions, labelled, since)


async def find_group(services: Services, key: str) -> Group | None:
    """The group behind a Teach button: from the Home just built when it is fresh, else read again."""
    cached = services.staff_views.fresh_group(key)
    if cached is not None:
        return cached
    return next((g for g in await unanswered_groups(services) if g.has_key(key)), None)


async def chosen_texts(services: Services, key: str | None, hashes: set[str]) -> list[str]:
    """The unanswered questions of the last WINDOW_DAYS, not taught yet, whose hashes the modal carried:
    all that Save may teach, the most asked first. Raises when the log is out of reach."""
    group = await find_group(services, key) if key is not None else None
    if group is None:
        groups = await unanswered_groups(services)
    else:
        groups = [group]
    labelled = {label.text for label in await bounded(services.recorder.store.labels.read(), REPLY_STORE_SECONDS)}
    chosen = [t for g in groups for t in g.texts if text_hash(t) in hashes and taught_text(t) not in labelled]
    return list(dict.fromkeys(chosen))[:MAX_TAUGHT]


def _rates(questions: Sequence[StoredQuestion], counts: dict[str, int]) -> Rates:
    return Rates(
        questions=len(questions),
        answered=sum(q.outcome == "answered" for q in questions),
        fallback=sum(q.outcome == "fallback" for q in questions),
        handoffs=sum(q.handed_off for q in questions),
        helpful=counts.get("helpful", 0),
        not_helpful=counts.get("not_helpful", 0),
    )


async def gather(services: Services, now: datetime.datetime | None = None) -> Dashboard:
    """Everything the staff Home shows from the question log; a log out of reach gives an empty
    dashboard that says so (the Home still opens). The reads are bounded in time, and the counting and
    grouping run in a worker thread, bounded in work: members' answers never wait for a staff view.
    Within StaffViewCache.fresh seconds of the last build (and with no Save since), the same figures."""
    await services.recorder.flush(1.0)  # questions asked a moment ago count
    stamp = services.recorder.written
    cached = services.staff_views.dashboard(stamp) if now is None else None
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    now = _utc(now)
    today = now.date()
    start = today - datetime.timedelta(days=WINDOW_DAYS - 1)
    since = datetime.datetime.combine(start, datetime.time(), datetime.UTC)
    week = now - datetime.timedelta(days=RATE_DAYS)
    fortnight = now - datetime.timedelta(days=2 * RATE_DAYS)
    store = services.recorder.store
    try:
        questions, labelled = await _read(services, min(since, fortnight))
        async with asyncio.timeout(REPLY_STORE_SECONDS):
            counts = (
                await store.feedback.counts_since(week),
                await store.feedback.counts_since(fortnight),
                await store.feedback.counts_since(since),
            )
    except Exception as exc:
        dashboard = Dashboard(start=start, per_day=[0] * WINDOW_DAYS)
        dashboard.error = f"The question log is out of reach ({type(exc).__name__}): no figures for now."
        return dashboard
    dashboard = await asyncio.to_thread(_dashboard, services, now, questions, labelled, counts)
    services.staff_views.keep(dashboard, stamp)
    return dashboard


def _dashboard(
    services: Services,
    now: datetime.datetime,
    questions: Sequence[StoredQuestion],
    labelled: set[str],
    counts: tuple[dict[str, int], dict[str, int], dict[str, int]],
) -> Dashboard:
    """The figures, in a worker thread: linear in the questions, and the grouping bounded (bot.report)."""
    recent, both, window = counts
    start = now.date() - datetime.timedelta(days=WINDOW_DAYS - 1)
    since = datetime.datetime.combine(start, datetime.time(), datetime.UTC)
    week = now - datetime.timedelta(days=RATE_DAYS)
    fortnight = now - datetime.timedelta(days=2 * RATE_DAYS)
    dashboard = Dashboard(start=start, per_day=[0] * WINDOW_DAYS)
    questions = [q for q in questions if q.at <= now]
    for q in questions:
        day = (q.at.astimezone(datetime.UTC).date() - start).days
        if 0 <= day < WINDOW_DAYS:
            dashboard.per_day[day] += 1
    dashboard.this_week = _rates([q for q in questions if q.at >= week], recent)
    before = {k: both.get(k, 0) - recent.get(k, 0) for k in ("helpful", "not_helpful")}
    dashboard.last_week = _rates([q for q in questions if fortnight <= q.at < week], before)
    least = []
    for key, down in window.items():
        if key.startswith("not_helpful:") and down > 0:
            intent_id = key.split(":", 1)[1]
            least.append((intent_id, down, down + window.get(f"helpful:{intent_id}", 0)))
    least.sort(key=lambda x: (-x[1], -x[1] / x[2], x[0]))
    dashboard.least_helpful = least[:LEAST_HELPFUL]
    dashboard.groups = _groups(services, questions, labelled, since)
    return dashboard
