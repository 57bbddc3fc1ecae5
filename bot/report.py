"""`python -m bot report`: what members asked over the last days, how it went, and what the bot could
not answer, grouped, each group with the intent it is closest to and the command that teaches it."""

from __future__ import annotations

import asyncio
import datetime
import re
import shlex
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.question_log import HandoffTimes, QuestionStore, Report, StoredQuestion, UnansweredGroup
from bot.safety import for_terminal, one_line
from intents import Engine
from intents.text import content_words

# An answer the model gave less than this probability is a near miss worth a look, though the bot answered.
WEAK_CONFIDENCE = 0.5
# Two questions are "the same question" when their content words overlap at least this much.
SAME_QUESTION = 0.5
# The people's report lists this many groups; the JSON has them all.
SHOWN_GROUPS = 20
QUESTION_CHARS = 150  # a member's question as the report shows it, and as its learn command teaches it
# Bounds on the grouping, which runs over whatever members sent: the distinct wordings grouped (the most
# asked first), the groups one wording is compared with, and the groups the model suggests an intent for.
MAX_WORDINGS = 3000
MAX_CANDIDATES = 64
SUGGESTED_GROUPS = 50
_SHELL_SPECIAL = re.compile(r'["\\$`!]')


def is_unanswered(question: StoredQuestion) -> bool:
    """A fallback, a question the bot asked back about (it was unsure), or an answer it was unsure of."""
    weak = question.confidence is not None and question.confidence < WEAK_CONFIDENCE
    return question.outcome in ("fallback", "asked") or weak


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _suggest(engine: Engine, text: str) -> str | None:
    """The intent the model puts closest to the question, from the reasons written on its answer: None
    when it thinks the question off-topic or a stage refused it (a request to write something), since
    teaching the bot that "will it rain in Leeds" means some topic would make it worse."""
    return engine.closest_topic(engine.answer(text))


@dataclass
class Wording:
    """One distinct wording of unanswered questions: how often it was sent, and by whom (keyed hashes)."""

    text: str
    messages: int = 0
    members: Counter[str] = field(default_factory=Counter)  # messages per member


def tally(asked: Iterable[tuple[str, str]], limit: int = MAX_WORDINGS) -> tuple[list[Wording], int]:
    """The distinct wordings among (text, member hash) pairs, the most members first (then the most
    messages, then the first asked), at most `limit` of them; and how many wordings were left out.
    Linear in the number of questions: a member who sends thousands of distinct ones costs a count each."""
    wordings: dict[str, Wording] = {}
    for text, member in asked:
        wording = wordings.get(text)
        if wording is None:
            wording = wordings[text] = Wording(text)
        wording.messages += 1
        wording.members[member] += 1
    ranked = sorted(wordings.values(), key=lambda w: (-len(w.members), -w.messages))
    return ranked[:limit], max(0, len(ranked) - limit)


@dataclass
class Grouped:
    """A group of unanswered questions and the wordings in it, the most asked first."""

    group: UnansweredGroup
    wordings: list[Wording]


def group_questions(
    engine: Engine, asked: Iterable[tuple[str, str]], suggest: int = SUGGESTED_GROUPS, limit: int = MAX_WORDINGS
) -> list[Grouped]:
    """Greedy grouping of (text, member hash) pairs: each distinct wording, the most asked first, joins
    the first group whose first wording shares enough content words with it, or starts a new group.
    Bounded however much members send: at most `limit` wordings are grouped, each is compared only with
    groups that share a word with it (at most MAX_CANDIDATES of them), and the model suggests an intent
    for the first `suggest` groups only. Groups come most members first; a group's count is its members."""
    wordings, _ = tally(asked, limit)
    seeds: list[frozenset[str]] = []
    grouped: list[list[Wording]] = []
    postings: dict[str, list[int]] = {}
    for wording in wordings:
        tokens = engine.catalogue.vocabulary.normalise(wording.text)
        words = frozenset(content_words(tokens))
        # A question of stopwords only ("what is it?") matches only its own wording.
        key = words or frozenset({" ".join(tokens) or wording.text.strip().lower()})
        candidates = sorted({g for word in key for g in postings.get(word, ())})[:MAX_CANDIDATES]
        home = next((g for g in candidates if _jaccard(seeds[g], key) >= SAME_QUESTION), None)
        if home is not None:
            grouped[home].append(wording)
            continue
        seeds.append(key)
        grouped.append([wording])
        for word in key:
            posting = postings.setdefault(word, [])
            if len(posting) < MAX_CANDIDATES:
                posting.append(len(seeds) - 1)
    out = []
    for members in grouped:
        people: Counter[str] = Counter()
        for wording in members:
            people.update(wording.members)
        messages = sum(w.messages for w in members)
        top = people.most_common(1)[0][1] if people else 0
        ordered = sorted(members, key=lambda w: (-len(w.members), -w.messages))
        group = UnansweredGroup(
            ordered[0].text, len(people), None, messages=messages, mostly_one=len(people) > 1 and 2 * top > messages
        )
        out.append(Grouped(group, ordered))
    # Stable sort: equal counts stay in the order first seen.
    out.sort(key=lambda g: (-g.group.count, -g.group.messages))
    for grouped_one in out[:suggest]:
        g = grouped_one.group
        grouped_one.group = UnansweredGroup(
            g.text, g.count, _suggest(engine, g.text), messages=g.messages, mostly_one=g.mostly_one
        )
    return out


def group_unanswered(engine: Engine, asked: Iterable[tuple[str, str]]) -> list[UnansweredGroup]:
    """The groups of group_questions, without their wordings."""
    return [grouped.group for grouped in group_questions(engine, asked)]


async def build_report(store: QuestionStore, engine: Engine, days: int, now: datetime.datetime | None = None) -> Report:
    """Read the last `days` of the question log, then build the report in a worker thread: however much
    members sent, the event loop goes on answering while it is counted and grouped."""
    now = now or datetime.datetime.now(datetime.UTC)
    since = now - datetime.timedelta(days=days)
    questions = await store.questions.since(since)
    counts = await store.feedback.counts_since(since)
    handoffs = await store.handoffs.since(since)
    return await asyncio.to_thread(_report, engine, days, now, questions, counts, handoffs)


def _report(
    engine: Engine,
    days: int,
    now: datetime.datetime,
    questions: Sequence[StoredQuestion],
    counts: dict[str, int],
    handoffs: Sequence[HandoffTimes],
) -> Report:
    questions = [q for q in questions if q.at <= now]
    handoffs = [h for h in handoffs if h.at <= now]
    waits = sorted((h.taken_at - h.at).total_seconds() / 60 for h in handoffs if h.taken_at is not None)
    by_intent = Counter(q.intent for q in questions if q.intent is not None)
    unanswered = [(q.text, q.member_hash) for q in questions if is_unanswered(q) and q.text]

    def per_intent(prefix: str) -> dict[str, int]:
        return {k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith(prefix + ":")}

    return Report(
        days=days,
        questions=len(questions),
        answered=sum(q.outcome == "answered" for q in questions),
        fallback=sum(q.outcome == "fallback" for q in questions),
        handoffs=counts.get("handoffs", 0),
        helpful=counts.get("helpful", 0),
        not_helpful=counts.get("not_helpful", 0),
        handoffs_taken=sum(h.taken_at is not None for h in handoffs),
        handoffs_done=sum(h.done_at is not None for h in handoffs),
        minutes_to_take=statistics.median(waits) if waits else None,
        by_intent=dict(sorted(by_intent.items(), key=lambda kv: (-kv[1], kv[0]))),
        helpful_by_intent=per_intent("helpful"),
        not_helpful_by_intent=per_intent("not_helpful"),
        unanswered=group_unanswered(engine, unanswered),
    )


# In the report's learn command, where staff put the intent the members need (check it with `bot ask`).
LEARN_PLACEHOLDER = "INTENT_ID"


def learn_command(question: str, intent_id: str) -> str:
    """The exact command that adds this question to the intent, ready to paste into a shell: in double
    quotes, or single quotes when the text holds a character the shell reads inside double quotes."""
    question = " ".join(question.split())  # one line, as learn stores it
    quoted = f'"{question}"' if not _SHELL_SPECIAL.search(question) else shlex.quote(question)
    return f".venv/bin/python -m bot learn {quoted} {intent_id}"


def _wait(report: Report) -> str:
    return "" if report.minutes_to_take is None else f"; taken after {report.minutes_to_take:.0f} min, the median"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def format_report(report: Report, shown: Callable[[str], str] = for_terminal) -> str:
    """The report as text. Every member's question goes through `shown`: `for_terminal` for the command
    line, `for_code_block` for Slack, so nothing a member wrote is live where staff read it."""
    lines = [
        f"Last {report.days} day{'s' if report.days != 1 else ''}",
        f"  questions:   {report.questions}",
        f"  answered:    {report.answered} ({_percent(report.answered, report.questions)})",
        f"  fallback:    {report.fallback} ({_percent(report.fallback, report.questions)})",
        f"  hand-offs:   {report.handoffs} ({report.handoffs_taken} taken, {report.handoffs_done} done{_wait(report)})",
        f"  feedback:    {report.helpful} helpful, {report.not_helpful} not helpful",
    ]
    if report.by_intent:
        lines += ["", "By intent (questions, helpful / not helpful):"]
        width = max(len(i) for i in report.by_intent)
        for intent_id, n in report.by_intent.items():
            up = report.helpful_by_intent.get(intent_id, 0)
            down = report.not_helpful_by_intent.get(intent_id, 0)
            lines.append(f"  {intent_id:<{width}}  {n:>5}   {up} / {down}")
    if report.unanswered:
        lines += ["", f"Not answered, or answered below {WEAK_CONFIDENCE:g} confidence (most asked first):"]
        for group in report.unanswered[:SHOWN_GROUPS]:
            lines.append(f"  {_asked(group)}  {shown(one_line(group.text, QUESTION_CHARS))}")
            if group.suggested is not None:
                # The model's guess, never pasted into the command: it is often wrong for exactly these.
                lines.append(f"           closest intent (the model's guess, often wrong here): {group.suggested}")
            else:
                lines.append("           no intent is close: off-topic, or a topic the content does not cover yet")
            lines.append(
                f"           to teach it: {shown(learn_command(group.text[:QUESTION_CHARS], LEARN_PLACEHOLDER))}"
            )
        hidden = len(report.unanswered) - SHOWN_GROUPS
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (--json lists them all)")
    return "\n".join(lines)


def _asked(group: UnansweredGroup) -> str:
    """Members first, since one member's repeats are not many members asking."""
    people = f"{group.count} member{'s' if group.count != 1 else ''}"
    sent = f"{group.messages} message{'s' if group.messages != 1 else ''}"
    return f"{people}, {sent}" + (" (mostly one member)" if group.mostly_one else "")


def report_json(report: Report) -> dict[str, Any]:
    return {
        "questions": report.questions,
        "answered": report.answered,
        "fallback": report.fallback,
        "handoffs": report.handoffs,
        "handoffs_taken": report.handoffs_taken,
        "handoffs_done": report.handoffs_done,
        "minutes_to_take": report.minutes_to_take,
        "feedback": {"helpful": report.helpful, "not_helpful": report.not_helpful},
        "by_intent": dict(report.by_intent),
        "unanswered": [
            {
                "text": g.text,
                "members": g.count,
                "messages": g.messages,
                "mostly_one_member": g.mostly_one,
                "suggested": g.suggested,
            }
            for g in report.unanswered
        ],
    }
