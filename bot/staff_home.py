"""The staff App Home and the Teach modal: what the question log says about the last weeks, and the
questions the bot could not answer, each group with a Teach button.

Only the content team sees this Home (bot/listeners/home.py checks on the server, every time); members
keep the Home of Renderer.home. Everything a member wrote is cut short, escaped the way Slack escapes
text (bot/safety.py `escape`) and shown in verbatim sections, so nothing in it can ping anyone.

A Teach button carries a key (the first 16 hex digits of the SHA-256 of the group's representative
question), never the question; the modal carries the same kind of hash for each question it shows. On
a click and on Save the server reads the question log again and takes only the questions it finds
there, unanswered and not taught yet, whose hashes match: a forged key or hash can name nothing else.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import SECTION_LIMIT, TEACH_ACTION, TEACH_VIEW, long_date
from bot.question_log import StoredQuestion, UnansweredGroup
from bot.report import group_questions, is_unanswered
from bot.safety import QUESTION_CHARS, clean_payload, escape, for_terminal, taught_text
from bot.services import Services
from bot.timeouts import REPLY_STORE_SECONDS, bounded
from intents.model import Catalogue, Intent

WINDOW_DAYS = 28  # the chart, the least helpful intents and the unanswered questions
RATE_DAYS = 7  # the rates: these days against the same number of days before
SHOWN_GROUPS = 8
LEAST_HELPFUL = 5
SHOWN_DUE = 10
MAX_HOME_BLOCKS = 100  # Slack's limit for a Home view
MAX_TAUGHT = 100  # distinct wordings one Save teaches at most (the most asked first)
OFF_TOPIC = "-off-topic"  # the select's value for "off-topic": no intent id starts with '-'
INTENT_BLOCK = "intent"  # the modal's input block and its select's action id
INTENT_ACTION = "intent"
MAX_OPTIONS = 100  # a static_select's options (or option groups)
OPTION_CHARS = 75
METADATA_LIMIT = 3000
_KEY = re.compile(r"^[0-9a-f]{16}$")
_HASH = re.compile(r"^[0-9a-f]{12}$")
SPARKS = "▁▂▃▄▅▆▇█"


def group_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def valid_key(value: object) -> str | None:
    return value if isinstance(value, str) and _KEY.match(value) else None


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


def review_due(catalogue: Catalogue, today: datetime.date) -> list[tuple[Intent, datetime.date]]:
    """Intents whose `reviewed:` date is more than settings.review_after_days ago, the rule `bot check`
    warns by (intents/validate.py review_dates), with the day each fell due; the longest overdue first."""
    limit = datetime.timedelta(days=catalogue.settings.review_after_days)
    due = [(i, i.reviewed + limit) for i in catalogue.intents if i.reviewed is not None and today > i.reviewed + limit]
    return sorted(due, key=lambda d: (d[1], d[0].id))


# --- Block Kit ---


def sparkline(counts: Sequence[int]) -> str:
    """One character a day: the lowest bar for none, then seven heights up to the busiest day."""
    top = max(counts, default=0)
    if top == 0:
        return SPARKS[0] * len(counts)
    return "".join(SPARKS[-(-n * 7 // top)] for n in counts)


def _short_date(day: datetime.date) -> str:
    return f"{day.day} {day:%b}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _rate(name: str, now: tuple[int, int], was: tuple[int, int], votes: bool = False) -> str:
    def one(part: int, whole: int) -> str:
        if votes:
            return f"{_percent(part, whole)} of {whole} vote{'s' if whole != 1 else ''}" if whole else "no votes"
        return _percent(part, whole)

    return f"*{name}*\n{one(*now)} (was {one(*was)})"


def shown_question(text: str, limit: int = QUESTION_CHARS) -> str:
    """A member's question for a section: on one line, without control characters, cut before escaping
    (so no entity is split) to exactly what Teach would learn (taught_text), and escaped, so nothing in
    it is read as a mention, a link or a broadcast."""
    flat = for_terminal(text)
    shown = flat[:limit].rstrip()
    return escape(shown) + ("…" if len(flat) > limit else "")


def _verbatim(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:SECTION_LIMIT], verbatim=True)


def _title(catalogue: Catalogue, intent_id: str | None) -> str:
    intent = catalogue.get(intent_id)
    return f"{intent.title} (`{intent.id}`)" if intent is not None else f"`{intent_id}`"


def staff_blocks(dashboard: Dashboard, catalogue: Catalogue, today: datetime.date, notice: str | None) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Staff view: how the bot is doing"))]
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice[:SECTION_LIMIT])))
    if dashboard.error:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=dashboard.error)))
    else:
        end = dashboard.start + datetime.timedelta(days=len(dashboard.per_day) - 1)
        chart = (
            f"*Questions a day, last {WINDOW_DAYS} days*\n{sparkline(dashboard.per_day)}\n"
            f"{_short_date(dashboard.start)} to {_short_date(end)} (UTC) · busiest day: {max(dashboard.per_day)}"
            f" · {sum(dashboard.per_day)} in all"
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=chart)))
        now, was = dashboard.this_week, dashboard.last_week
        fields = [
            _rate("Answered", (now.answered, now.questions), (was.answered, was.questions)),
            _rate("Fallback", (now.fallback, now.questions), (was.fallback, was.questions)),
            _rate("Helpful", (now.helpful, now.votes), (was.helpful, was.votes), votes=True),
            _rate("Handed to a person", (now.handoffs, now.questions), (was.handoffs, was.questions)),
        ]
        intro = f"*Last {RATE_DAYS} days*: {now.questions} questions (the {RATE_DAYS} days before: {was.questions})"
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=intro), fields=[MarkdownTextObject(text=f) for f in fields])
        )
        blocks.append(DividerBlock())
        if dashboard.least_helpful:
            lines = [
                f"• {_title(catalogue, i)}: {down} of {votes} votes not helpful ({_percent(down, votes)})"
                for i, down, votes in dashboard.least_helpful
            ]
        else:
            lines = ["_No “not helpful” votes._"]
        text = f"*Least helpful answers, last {WINDOW_DAYS} days*\n" + "\n".join(lines)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:SECTION_LIMIT])))
    due = review_due(catalogue, today)
    if due:
        lines = [
            f"• {_title(catalogue, i.id)}: checked {long_date(i.reviewed)}, due {long_date(d)}"
            for i, d in due[:SHOWN_DUE]
            if i.reviewed
        ]
        if len(due) > SHOWN_DUE:
            lines.append(f"…and {len(due) - SHOWN_DUE} more (`python -m bot check` lists them all)")
    else:
        lines = ["_None: every answer was checked within its review period._"]
    days = catalogue.settings.review_after_days
    text = f"*Answers due for review* (checked more than {days} days ago)\n" + "\n".join(lines)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:SECTION_LIMIT])))
    if not dashboard.error:
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Questions the bot could not answer, or answered unsure* (last {WINDOW_DAYS} days, most "
                    "asked first). *Teach* tells the bot which answer they need."
                )
            )
        )
        for group in dashboard.groups[:SHOWN_GROUPS]:
            blocks.append(_group_section(group, catalogue))
        if not dashboard.groups:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text="None: nothing waits to be taught.")]))
        elif len(dashboard.groups) > SHOWN_GROUPS:
            more = len(dashboard.groups) - SHOWN_GROUPS
            blocks.append(
                ContextBlock(elements=[MarkdownTextObject(text=f"…and {more} more groups (`/messenger report 28`).")])
            )
    return blocks


def _asked(members: int, messages: int, mostly_one: bool) -> str:
    who = f"{members} member{'s' if members != 1 else ''}"
    sent = f"{messages} message{'s' if messages != 1 else ''}"
    return f"*{who}* ({sent})" + (", _mostly one member_" if mostly_one else "")


def _group_section(group: Group, catalogue: Catalogue) -> SectionBlock:
    g = group.group
    text = f"{_asked(g.count, g.messages, g.mostly_one)}: “{shown_question(g.text)}”"
    if len(group.texts) > 1:
        text += f"\n_and {len(group.texts) - 1} other wording{'s' if len(group.texts) > 2 else ''}_"
    suggested = catalogue.get(g.suggested)
    text += f"\nClosest answer: {escape(suggested.title)}" if suggested else "\nClosest answer: none (off-topic?)"
    text += _picks_line(group, catalogue)
    button = ButtonElement(text="Teach", action_id=TEACH_ACTION, value=group.key, style="primary")
    return SectionBlock(text=_verbatim(text), accessory=button)


def _picks_line(group: Group, catalogue: Catalogue) -> str:
    """What members picked themselves among the bot's choices: "" when nobody did."""
    picks = [(catalogue.get(i), n) for i, n in group.picked]
    shown = [f"{escape(intent.title)} ({n})" for intent, n in picks if intent is not None][:3]
    return f"\nMembers' own pick: {'; '.join(shown)}" if shown else ""


def staff_home(
    services: Services, dashboard: Dashboard, notice: str | None = None, today: datetime.date | None = None
) -> dict[str, Any]:
    """The staff Home: the staff part, then what members see on theirs."""
    content = services.content.current
    catalogue = content.catalogue
    today = today or datetime.datetime.now(datetime.UTC).date()
    staff = [b.to_dict() for b in staff_blocks(dashboard, catalogue, today, notice)]
    member = content.renderer.home(catalogue.get("key_points"))["blocks"]
    below = [
        DividerBlock().to_dict(),
        ContextBlock(elements=[MarkdownTextObject(text="*What members see:*")]).to_dict(),
    ]
    blocks = clean_payload(staff) + below + member
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _options(catalogue: Catalogue) -> tuple[list[Option], Option]:
    off_topic = Option(value=OFF_TOPIC, label="Off-topic: the bot should say it does not know")
    options = [off_topic]
    for intent in catalogue.intents:
        label = intent.title if len(intent.title) <= OPTION_CHARS else intent.title[: OPTION_CHARS - 1] + "…"
        options.append(Option(value=intent.id, label=label))
    return options, off_topic


def metadata(group: Group, texts: Sequence[str] | None = None) -> str:
    """What the modal carries to Save: the group's key and a hash of each wording it shows (`texts`, by
    default all of the group's, as many as fit)."""
    hashes: list[str] = []
    for text in group.texts if texts is None else texts:
        candidate = json.dumps({"k": group.key, "q": [*hashes, text_hash(text)]}, separators=(",", ":"))
        if len(candidate) > METADATA_LIMIT:
            break
        hashes.append(text_hash(text))
    return json.dumps({"k": group.key, "q": hashes}, separators=(",", ":"))


def read_key(raw: object) -> str | None:
    """The group key a submission carries, or None."""
    try:
        data = json.loads(raw) if isinstance(raw, str) and len(raw) <= METADATA_LIMIT else None
    except ValueError:
        return None
    return valid_key(data.get("k")) if isinstance(data, dict) else None


def read_metadata(raw: object) -> set[str] | None:
    """The hashes a submission carries, or None when its private_metadata is not ours."""
    if not isinstance(raw, str) or len(raw) > METADATA_LIMIT:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    hashes = data.get("q") if isinstance(data, dict) else None
    if not isinstance(hashes, list) or not hashes or not all(isinstance(h, str) and _HASH.match(h) for h in hashes):
        return None
    return set(hashes)


def teach_view(group: Group, catalogue: Catalogue) -> dict[str, Any]:
    """The Teach modal: the group's questions, every intent (and off-topic) to choose from, Save. Save
    teaches exactly the lines shown, as shown: the metadata names only the wordings on the form."""
    hashes = read_metadata(metadata(group)) or set()
    candidates = [(t, n) for t, n in zip(group.texts, group.asked, strict=True) if text_hash(t) in hashes]
    lines: list[str] = []
    shown: list[tuple[str, int]] = []
    picks = _picks_line(group, catalogue)
    used = len(picks)
    for n, (text, asked) in enumerate(candidates):
        line = f"• “{shown_question(text)}”" + (f" ({asked} members)" if asked > 1 else "")
        rest = f"\n…and {len(candidates) - n} more, not taught by this Save"
        if used + len(line) + 1 + len(rest) > SECTION_LIMIT:
            lines.append(rest.strip())
            break
        lines.append(line)
        shown.append((text, asked))
        used += len(line) + 1
    g = group.group
    options, off_topic = _options(catalogue)
    # The members' own pick, when they made one, goes first: they know what they meant; else the model's.
    first = next((i for i, _ in group.picked if catalogue.get(i) is not None), group.group.suggested)
    suggested = next((o for o in options if o.value == first), None)
    if len(options) <= MAX_OPTIONS:
        select = StaticSelectElement(action_id=INTENT_ACTION, options=options, initial_option=suggested)
    else:
        groups = [
            OptionGroup(
                label=f"Answers {n + 1}–{n + len(options[n : n + MAX_OPTIONS])}", options=options[n : n + MAX_OPTIONS]
            )
            for n in range(0, len(options), MAX_OPTIONS)
        ][:MAX_OPTIONS]
        select = StaticSelectElement(action_id=INTENT_ACTION, option_groups=groups, initial_option=suggested)
    wordings = f"{len(shown)} wording{'s' if len(shown) != 1 else ''}"
    intro = f"{_asked(g.count, g.messages, g.mostly_one)} asked this, in {wordings}. Save teaches these lines as shown:"
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        SectionBlock(text=_verbatim("\n".join(lines) + picks)),
        InputBlock(block_id=INTENT_BLOCK, label="Which answer do they need?", element=select),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Save teaches the bot at once: the next member who asks gets that answer. "
                    "`python -m bot labels list` shows what staff taught, and `undo` takes it back."
                )
            ]
        ),
    ]
    view = View(
        type="modal",
        callback_id=TEACH_VIEW,
        title="Teach the bot",
        submit="Save",
        close="Cancel",
        private_metadata=metadata(group, [t for t, _ in shown]),
        blocks=blocks,
    )
    return clean_payload(view.to_dict())  # type: ignore[no-any-return]


def notice_view(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a refusal, or why Teach cannot open)."""
    view = View(
        type="modal", title=title[:24], close="Close", blocks=[SectionBlock(text=MarkdownTextObject(text=text))]
    )
    return clean_payload(view.to_dict())  # type: ignore[no-any-return]


def chosen_intent(view: dict[str, Any], catalogue: Catalogue) -> tuple[bool, str | None]:
    """(valid, intent id or None for off-topic) from a submitted view's state."""
    values = view.get("state", {}).get("values", {}) if isinstance(view.get("state"), dict) else {}
    block = values.get(INTENT_BLOCK) if isinstance(values, dict) else None
    element = block.get(INTENT_ACTION) if isinstance(block, dict) else None
    option = element.get("selected_option") if isinstance(element, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    if value == OFF_TOPIC:
        return True, None
    if isinstance(value, str) and catalogue.get(value) is not None:
        return True, value
    return False, None
