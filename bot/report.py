"""`python -m bot report`: what members asked over the last days, how it went, and what the bot could
not answer, grouped, each group with the intent it is closest to and the command that teaches it."""

from __future__ import annotations

import datetime
import re
import shlex
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bot.question_log import QuestionStore, Report, StoredQuestion, UnansweredGroup
from intents import Engine
from intents.text import content_words

# An answer the model gave less than this probability is a near miss worth a look, though the bot answered.
WEAK_CONFIDENCE = 0.5
# Two questions are "the same question" when their content words overlap at least this much.
SAME_QUESTION = 0.5
# The people's report lists this many groups; the JSON has them all.
SHOWN_GROUPS = 20
_SHELL_SPECIAL = re.compile(r'["\\$`!]')


def is_unanswered(question: StoredQuestion) -> bool:
    weak = question.confidence is not None and question.confidence < WEAK_CONFIDENCE
    return question.outcome == "fallback" or weak


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _suggest(engine: Engine, text: str) -> str | None:
    """The intent the model puts closest to the question, from the reasons written on its answer: None
    when it thinks the question off-topic or a stage refused it (a request to write something), since
    teaching the bot that "will it rain in Leeds" means some topic would make it worse."""
    return engine.closest_topic(engine.answer(text))


def group_questions(engine: Engine, texts: Sequence[str]) -> list[tuple[UnansweredGroup, list[str]]]:
    """Greedy grouping: each question joins the first group whose first question shares enough content
    words with it, or starts a new group. Groups come most asked first; each is shown by its most
    frequent wording, and comes with every question in it (as asked, repeats included)."""
    groups: list[tuple[frozenset[str], list[str]]] = []
    for text in texts:
        tokens = engine.catalogue.vocabulary.normalise(text)
        words = frozenset(content_words(tokens))
        # A question of stopwords only ("what is it?") matches only its own wording.
        key = words or frozenset({" ".join(tokens) or text.strip().lower()})
        for seed, members in groups:
            if _jaccard(seed, key) >= SAME_QUESTION:
                members.append(text)
                break
        else:
            groups.append((key, [text]))
    out = []
    for _, members in groups:
        representative = Counter(members).most_common(1)[0][0]
        out.append((UnansweredGroup(representative, len(members), _suggest(engine, representative)), members))
    # Stable sort: equal counts stay in the order first seen.
    return sorted(out, key=lambda g: -g[0].count)


def group_unanswered(engine: Engine, texts: Sequence[str]) -> list[UnansweredGroup]:
    """The groups of group_questions, without their questions."""
    return [group for group, _ in group_questions(engine, texts)]


async def build_report(store: QuestionStore, engine: Engine, days: int, now: datetime.datetime | None = None) -> Report:
    now = now or datetime.datetime.now(datetime.UTC)
    since = now - datetime.timedelta(days=days)
    questions = [q for q in await store.questions_since(since) if q.at <= now]
    counts = await store.counts_since(since)
    handoffs = [h for h in await store.handoffs_since(since) if h.at <= now]
    waits = sorted((h.taken_at - h.at).total_seconds() / 60 for h in handoffs if h.taken_at is not None)
    by_intent = Counter(q.intent for q in questions if q.intent is not None)
    unanswered = [q.text for q in questions if is_unanswered(q) and q.text]

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


def format_report(report: Report) -> str:
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
            lines.append(f"  {group.count:>4} x  {group.text}")
            if group.suggested is not None:
                lines.append(f"           closest intent: {group.suggested}; to add it as an example:")
                lines.append(f"           {learn_command(group.text, group.suggested)}")
            else:
                lines.append("           no intent is close: off-topic, or a topic the content does not cover yet")
        hidden = len(report.unanswered) - SHOWN_GROUPS
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (--json lists them all)")
    return "\n".join(lines)


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
        "unanswered": [{"text": g.text, "count": g.count, "suggested": g.suggested} for g in report.unanswered],
    }
