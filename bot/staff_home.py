"""The staff App Home and the Teach modal, built from the figures bot/staff_figures.py gathers (this
module reads nothing): the last weeks, and the questions the bot could not answer, each group with a
Teach button.

Only the content team sees this Home (bot/listeners/home.py checks on the server, every time); members
keep the Home of Renderer.home. Everything a member wrote is cut short, escaped the way Slack escapes
text (bot/safety.py `escape`) and shown in verbatim sections, so nothing in it can ping anyone.

A Teach button carries a key (the first 16 hex digits of the SHA-256 of the group's representative
question), never the question; the modal carries the same kind of hash for each question it shows. On
a click and on Save the server reads the question log again and takes only the questions it finds
there, unanswered and not taught yet, whose hashes match: a forged key or hash can name nothing else.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Sequence
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
from bot.content import Content
from bot.safety import QUESTION_CHARS, clean_payload, escape, for_terminal
from bot.staff_figures import (  # the figures these views are built from
    RATE_DAYS,
    SHOWN_GROUPS,
    WINDOW_DAYS,
    Dashboard,
    Group,
    text_hash,
)
from intents.model import Catalogue, Intent

SHOWN_DUE = 10
MAX_HOME_BLOCKS = 100  # Slack's limit for a Home view
OFF_TOPIC = "-off-topic"  # the select's value for "off-topic": no intent id starts with '-'
INTENT_BLOCK = "intent"  # the modal's input block and its select's action id
INTENT_ACTION = "intent"
MAX_OPTIONS = 100  # a static_select's options (or option groups)
OPTION_CHARS = 75
METADATA_LIMIT = 3000
_KEY = re.compile(r"^[0-9a-f]{16}$")
_HASH = re.compile(r"^[0-9a-f]{12}$")
SPARKS = "▁▂▃▄▅▆▇█"


def valid_key(value: object) -> str | None:
    return value if isinstance(value, str) and _KEY.match(value) else None


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
    content: Content, dashboard: Dashboard, notice: str | None = None, today: datetime.date | None = None
) -> dict[str, Any]:
    """The staff Home, built from the figures handed to it (bot/staff_figures.py gathers them): the staff
    part, then what members see on theirs."""
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
