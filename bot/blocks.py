"""Answer -> Block Kit message (and its plain-text fallback), built with slack_sdk's block models.

slack_sdk's models enforce Slack's element limits (3000 characters a section, 75 a button label,
25 elements an actions block) when a payload is built, so content that breaks them fails in
`python -m bot check`, not in front of a member.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.command_names import Commands
from bot.safety import clean_payload
from intents.model import CONTACT, OFFERS_OVERVIEW, Answer, Catalogue, Intent

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
HEADER_LIMIT = 150
MAX_ACTIONS = 25
TOPIC_ACTION = "topic"
# The block of choices a reply offers (a question back, "did you mean"); with_feedback adds the question id.
CHOICES_BLOCK = "did_you_mean"
LINK_ACTION = "link"
SHARE_ACTION = "share"
FEEDBACK_ACTION = "feedback"  # feedback:helpful / feedback:not_helpful, value = the question's id
HANDOFF_ACTION = "handoff"  # "Ask a person", value = the question's id
# On the staff channel's hand-off message: Take it and Done, value = the question's id.
TAKE_ACTION = "handoff_take"
DONE_ACTION = "handoff_done"
# The staff Home's Teach button (value = the key of a group of unanswered questions, see bot/staff_home.py)
# and the modal it opens (callback_id of the view Save submits).
TEACH_ACTION = "teach"
TEACH_VIEW = "teach"
# Replies kept once built: every intent in every mode, and the most common fallbacks.
MAX_BUILT = 2048


_ITEM_START = re.compile(r"^(•|-\s|\d+[.)]\s)")
_BOLD_START = re.compile(r"^\*[^*\s]")
_BOLD_LABEL = re.compile(r"^\*[^*]+:\*")  # "*Our view:* ..." labels its line
_SENTENCE_END = re.compile(r"[.:!?;)*]$")


def reflow(text: str) -> str:
    """Join the lines staff wrap in YAML into paragraphs, as Slack would otherwise break them mid-
    sentence. A line starting with a bullet or a number keeps its own line, and so does a *bold label:*
    or a *bold* lead after a finished sentence ("...leaders.\n*Recommendation 2* ..."); a *bold* word
    that merely wrapped onto the next line ("a function at\n*regional level*") joins its sentence. A blank line
    separates paragraphs."""
    out: list[str] = []
    for line in text.strip().split("\n"):
        line = line.strip()
        if not line:
            if out and out[-1] != "":
                out.append("")
        elif not out or out[-1] == "" or _ITEM_START.match(line):
            out.append(line)
        elif _BOLD_LABEL.match(line) or (_BOLD_START.match(line) and _SENTENCE_END.search(out[-1])):
            out.append(line)
        else:
            out[-1] = f"{out[-1]} {line}"
    return "\n".join(out)


@dataclass(frozen=True)
class Message:
    """A rendered reply: `text` is the plain fallback Slack shows in notifications."""

    text: str
    blocks: list[dict[str, Any]]
    # Offer "Ask a person" with it (an offer whose status is not open: the team knows what runs now).
    handoff: bool = False


def long_date(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


# Written in an intent's text, the day a person last checked it (its `reviewed:`): the one date an
# answer gives for that, the same as its footer's.
CHECKED = "{checked}"


def fill(intent: Intent, commands: Commands, text: str) -> str:
    """An intent's text as members read it: command names and the day it was checked put in, wrapped
    lines joined."""
    text = commands.fill(text)
    if intent.reviewed is not None:
        text = text.replace(CHECKED, long_date(intent.reviewed))
    return reflow(text)


def _label(text: str) -> str:
    return text if len(text) <= BUTTON_LABEL_LIMIT else text[: BUTTON_LABEL_LIMIT - 1] + "…"


def _topic_button(intent: Intent) -> ButtonElement:
    return ButtonElement(text=_label(intent.title), action_id=f"{TOPIC_ACTION}:{intent.id}", value=intent.id)


def _link_buttons(intent: Intent, *, include_signup: bool = True, skip: tuple[str, ...] = ()) -> list[ButtonElement]:
    """One button per address: the sign-up first (when included), then each link whose address no button
    before it has, nor `skip` (the contact page, when Ask a person goes with the reply)."""
    buttons = []
    seen = set(skip)
    if include_signup and intent.signup is not None:
        buttons.append(
            ButtonElement(
                text=_label(intent.signup.label),
                url=intent.signup.url,
                action_id=f"{LINK_ACTION}:signup",
                style="primary",
            )
        )
        seen.add(intent.signup.url)
    for n, link in enumerate(intent.links):
        if link.url in seen:
            continue
        seen.add(link.url)
        buttons.append(ButtonElement(text=_label(link.label), url=link.url, action_id=f"{LINK_ACTION}:{n}"))
    return buttons[:MAX_ACTIONS]


def _section(text: str) -> SectionBlock:
    # `python -m bot check` refuses content over the limit; the cut is only a last line of defence.
    return SectionBlock(text=MarkdownTextObject(text=text[:SECTION_LIMIT]))


def limit_problems(intent: Intent, commands: Commands) -> list[tuple[str, str]]:
    """(field, message) for each piece of an intent that would break Slack's limits once rendered."""
    found = []
    if len(intent.title) > HEADER_LIMIT:
        found.append(("title", f"{len(intent.title)} characters; a heading can have {HEADER_LIMIT}"))
    summary = fill(intent, commands, intent.summary)
    if len(summary) > SECTION_LIMIT:
        found.append(("summary", f"{len(summary)} characters once rendered; Slack allows {SECTION_LIMIT} in a section"))
    details = _details_text(intent, commands)
    if len(details) > SECTION_LIMIT:
        found.append(("details", f"{len(details)} characters once rendered; Slack allows {SECTION_LIMIT} in a section"))
    for n, link in enumerate(intent.links):
        if len(link.label) > BUTTON_LABEL_LIMIT:
            found.append(
                (f"links.{n}", f"a button label has {len(link.label)} characters; Slack allows {BUTTON_LABEL_LIMIT}")
            )
    if intent.signup and len(intent.signup.label) > BUTTON_LABEL_LIMIT:
        found.append(
            ("signup", f"the button label has {len(intent.signup.label)} characters; Slack allows {BUTTON_LABEL_LIMIT}")
        )
    if len(intent.links) + 1 > MAX_ACTIONS:
        found.append(("links", f"{len(intent.links)} links; one row of buttons holds {MAX_ACTIONS}"))
    if len(intent.related) > MAX_ACTIONS:
        found.append(("related", f"{len(intent.related)} related topics; one row of buttons holds {MAX_ACTIONS}"))
    return found


def _details_text(intent: Intent, commands: Commands) -> str:
    return "\n".join(f"• {fill(intent, commands, d)}" for d in intent.details)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:SECTION_LIMIT])])


def _share_button(answer_ref: str) -> ActionsBlock:
    return ActionsBlock(
        block_id="share",
        elements=[ButtonElement(text="Share in channel", action_id=SHARE_ACTION, value=answer_ref)],
    )


def _feedback_block(question_id: str, labels: tuple[str, str] = ("Helpful", "Not helpful")) -> dict[str, Any]:
    """Built as plain dicts: this runs on every reply. tests/test_blocks.py checks it against
    slack_sdk's own model of the same block."""
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {"type": "button", "action_id": f"{FEEDBACK_ACTION}:{kind}", "value": question_id,
             "text": {"type": "plain_text", "text": label, "emoji": True}}
            for kind, label in zip(("helpful", "not_helpful"), labels, strict=True)
        ],
    }  # fmt: skip


def share_ref(answer: Answer) -> str:
    """A button value that lets the share handler rebuild the same answer later."""
    return json.dumps({"intent": answer.intent.id if answer.intent else None, "mode": answer.mode})


class Renderer:
    """Block Kit for one catalogue. A reply depends only on the intent, the mode and whether it can be
    shared (a fallback: on the topics it suggests), and the catalogue never changes once loaded (a
    reload builds a new Renderer), so each reply is built and validated once, then served from memory.
    Callers must not mutate a Message they are given."""

    def __init__(self, catalogue: Catalogue, commands: Commands) -> None:
        self.catalogue = catalogue
        self.commands = commands
        self._built: dict[tuple[object, ...], Message] = {}

    def answer(self, answer: Answer, *, shareable: bool = False) -> Message:
        if answer.intent is None:
            key: tuple[object, ...] = ("fallback", *(i.id for i in answer.alternatives[:3]))
        elif answer.mode == "ask":
            key = ("ask", *(i.id for i in answer.alternatives[:3]))
        else:
            key = (answer.intent.id, answer.mode, shareable)
        message = self._built.get(key)
        if message is None:
            message = self._answer(answer, shareable=shareable)
            if len(self._built) < MAX_BUILT:  # every intent fits; fallbacks vary with their suggestions
                self._built[key] = message
        return message

    def _answer(self, answer: Answer, *, shareable: bool) -> Message:
        if answer.intent is None:
            return self.fallback(answer)
        if answer.mode == "ask":
            return self.ask_back(answer)
        intent = answer.intent
        blocks: list[Block]
        texts = self.catalogue.settings.texts
        if answer.mode == "signup" and intent.is_offer:
            return self._signup(intent)
        elif answer.mode == "signup":
            # "How do I sign up?" after a topic with nothing to join: say so, and show where each offer stands.
            return self.offers(texts.signup_nothing.format(topic=intent.title))
        # An offer's standing, from its `status:`: said in every reply that shows the offer, and only here.
        standing = self._status_line(intent)
        # An offer that is not open goes out with Ask a person, which already leads to the contact page.
        skip: tuple[str, ...] = (self.contact_url,) if intent.is_offer and not intent.is_open else ()
        if intent.id == OFFERS_OVERVIEW and answer.mode == "full":
            # Its list shows each open offer's sign-up button already.
            skip = tuple(o.signup.url for o in self.catalogue.offers if o.is_open and o.signup is not None)
        if answer.mode == "more" and intent.more:
            more = fill(intent, self.commands, intent.more)
            text = f"{intent.title}: {more}" + (f" {standing}" if standing else "")
            blocks = [HeaderBlock(text=PlainTextObject(text=intent.title[:HEADER_LIMIT], emoji=False))]
            blocks.append(_section(more))
            if standing:
                blocks.append(_section(standing))
            buttons = _link_buttons(intent, skip=skip)
            if buttons:
                blocks.append(ActionsBlock(block_id="links", elements=buttons))
        elif answer.mode in ("read", "more"):
            # No longer text to give ("tell me more" on a topic without one): say where to read more.
            text = f"You can read more about {intent.title} here." + (f" {standing}" if standing else "")
            blocks = [SectionBlock(text=MarkdownTextObject(text=f"*{intent.title}*\nYou can read more here:"))]
            if standing:
                blocks.append(_section(standing))
            buttons = _link_buttons(intent, skip=skip)
            if buttons:
                blocks.append(ActionsBlock(block_id="links", elements=buttons))
            else:
                blocks.append(_context(self.catalogue.settings.contact_text))
        else:
            summary = fill(intent, self.commands, intent.summary)
            text = f"{intent.title}: {summary}" + (f" {standing}" if standing else "")
            blocks = [HeaderBlock(text=PlainTextObject(text=intent.title[:HEADER_LIMIT], emoji=False))]
            blocks.append(_section(summary))
            if intent.details:
                blocks.append(_section(_details_text(intent, self.commands)))
            if standing:
                blocks.append(_section(standing))
            if intent.id == OFFERS_OVERVIEW:
                # The offers, each with where it stands, built from the file as `/messenger offers` is.
                blocks.extend(self._offer_sections())
            buttons = _link_buttons(intent, skip=skip)
            if buttons:
                blocks.append(ActionsBlock(block_id="links", elements=buttons))
            related = [r for r in (self.catalogue.get(i) for i in intent.related) if r is not None]
            if related:
                blocks.append(_context("Related topics:"))
                blocks.append(
                    ActionsBlock(block_id="related", elements=[_topic_button(r) for r in related][:MAX_ACTIONS])
                )
        blocks.append(_context(self.source_line(intent)))
        if shareable:
            blocks.append(_share_button(share_ref(answer)))
        message = self._finish(text, blocks)
        # An offer that is not open: the team is the way to ask what runs now.
        return Message(message.text, message.blocks, handoff=intent.is_offer and not intent.is_open)

    def _signup(self, intent: Intent) -> Message:
        """A sign-up reply that follows the offer's status: only an open offer is offered as a sign-up."""
        texts, status = self.catalogue.settings.texts, intent.status
        blocks: list[Block]
        if intent.is_open and status is not None and intent.signup is not None:
            # One button: the sign-up, whatever else the answer links.
            text = texts.signup_open.format(offer=intent.title, as_of=long_date(status.as_of))
            if status.closes is not None:
                text += " " + texts.signup_closes.format(closes=long_date(status.closes))
            if status.next_cohort:
                text += " " + texts.signup_next_cohort.format(next_cohort=status.next_cohort)
            blocks = [_section(f"*{intent.title}*\n{text}")]
            blocks.append(ActionsBlock(block_id="links", elements=_link_buttons(intent)[:1]))
            blocks.append(_context(self.source_line(intent)))
            return self._finish(text, blocks)
        said = fill(intent, self.commands, intent.summary).split("\n\n")[0]
        if status is not None and status.state == "closed":
            text = texts.signup_closed.format(offer=intent.title, as_of=long_date(status.as_of))
            replacement = self.catalogue.get(status.replaced_by)
            if replacement is not None:
                text += " " + texts.signup_replaced.format(replacement=replacement.title)
            blocks = [_section(f"*{intent.title}*\n{text}")]
            if replacement is not None:
                blocks.append(ActionsBlock(block_id="replaced_by", elements=[_topic_button(replacement)]))
        else:
            # Unknown: what we said when it was announced, that the sources stop there (once: the offer's
            # text never says so itself), and how to ask. The day it was checked is the footer's.
            text = texts.signup_unknown.format(offer=intent.title)
            blocks = [_section(f"*{intent.title}*\n{said}"), _section(text)]
            # Ask a person goes with this reply: no second button to the contact page.
            buttons = _link_buttons(intent, include_signup=False, skip=(self.contact_url,))
            if buttons:
                blocks.append(ActionsBlock(block_id="links", elements=buttons))
            text = f"{intent.title}: {said} {text}"
        blocks.append(_context(self.source_line(intent)))
        message = self._finish(text, blocks)
        return Message(message.text, message.blocks, handoff=True)

    def source_line(self, intent: Intent) -> str:
        """The footer: where the answer's facts come from, and when a person last checked them. Only the
        label's first part (up to its first "; ") is the link: that part names the linked source, and any
        other sources the label names after it are plain text, so no name links to a page not its own."""
        if intent.source is None:
            line = f"Source: {self.catalogue.settings.default_source}"
        else:
            linked, sep, rest = intent.source.label.partition("; ")
            line = f"Source: <{intent.source.url}|{linked}>{sep}{rest}"
        if intent.reviewed is not None:
            line += f" · checked {long_date(intent.reviewed)}"
        return line

    def ask_back(self, answer: Answer) -> Message:
        """Unsure between close topics: ask which, each a topic button that answers in this thread."""
        texts = self.catalogue.settings.texts
        blocks: list[Block] = [
            SectionBlock(text=MarkdownTextObject(text=texts.ask_back)),
            ActionsBlock(block_id=CHOICES_BLOCK, elements=[_topic_button(i) for i in answer.alternatives[:3]]),
        ]
        titles = "; ".join(i.title for i in answer.alternatives[:3])
        return self._finish(f"{texts.ask_back} {titles}", blocks)

    def fallback(self, answer: Answer, *, shareable: bool = False) -> Message:
        settings = self.catalogue.settings
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=settings.fallback_text))]
        if answer.alternatives:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="*Did you mean one of these?*")))
            blocks.append(
                ActionsBlock(block_id=CHOICES_BLOCK, elements=[_topic_button(i) for i in answer.alternatives[:3]])
            )
        blocks.append(_context(settings.contact_text))
        return self._finish(f"{settings.fallback_text} {settings.contact_text}", blocks)

    def _status_line(self, offer: Intent) -> str:
        """Where an offer stands, from its `status:` alone ("" for an intent that is not an offer)."""
        texts, status = self.catalogue.settings.texts, offer.status
        if status is None:
            return ""
        line = {"open": texts.offer_open_line, "closed": texts.offer_closed_line}.get(
            status.state if offer.is_open or status.state == "closed" else "unknown", texts.offer_unknown_line
        )
        return line.format(as_of=long_date(status.as_of))

    def _offer_sections(self) -> list[Block]:
        """Every offer in the file: its title, the first paragraph of its summary, where it stands, and
        its sign-up button only when it is open (otherwise a button to the offer's own answer)."""
        sections: list[Block] = []
        texts = self.catalogue.settings.texts
        for offer in self.catalogue.offers:
            first = fill(offer, self.commands, offer.summary).split("\n\n")[0]
            status = self._status_line(offer)
            body = f"*{offer.title}*\n{first}" + (f"\n_{status}_" if status else "")
            if offer.is_open and offer.signup is not None:
                button = ButtonElement(
                    text=_label(offer.signup.label), url=offer.signup.url, action_id=f"{LINK_ACTION}:{offer.id}"
                )
            else:
                button = ButtonElement(
                    text=_label(texts.offer_more_button), action_id=f"{TOPIC_ACTION}:{offer.id}", value=offer.id
                )
            sections.append(SectionBlock(text=MarkdownTextObject(text=body[:SECTION_LIMIT]), accessory=button))
        return sections

    def offers(self, intro: str | None = None, *, shareable: bool = False) -> Message:
        """The offers, built from the file, so a new offer appears without anyone rewriting a list."""
        intro = intro or self.catalogue.settings.texts.offers_intro
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{intro}*"))]
        blocks.extend(self._offer_sections())
        blocks.append(_context(self.catalogue.settings.contact_text))
        if shareable:
            blocks.append(_share_button(json.dumps({"intent": None, "mode": "offers"})))
        names = ", ".join(o.title for o in self.catalogue.offers)
        message = self._finish(f"{intro} {names}", blocks)
        # While no offer is open, the team is the way to find out what runs.
        return Message(message.text, message.blocks, handoff=not any(o.is_open for o in self.catalogue.offers))

    def with_feedback(self, message: Message, question_id: str, *, fallback: bool, handoff: bool) -> Message:
        """The reply with its feedback row: Helpful / Not helpful under an answer, Ask a person under a
        fallback (`handoff`: whether a staff channel takes hand-offs; see handoff_block). A new Message:
        the rendered one is shared by every reply of that intent."""
        texts = self.catalogue.settings.texts
        if fallback:
            extra = [self.handoff_block(question_id, handoff=handoff)]
        else:
            extra = [_feedback_block(question_id, (texts.helpful_button, texts.not_helpful_button))]
            if message.handoff:
                extra.append(self.handoff_block(question_id, handoff=handoff))
        # The choices carry the question they answer: a click on one is kept with it (the member's own pick).
        blocks = [{**b, "block_id": f"{CHOICES_BLOCK}:{question_id}"} if b.get("block_id") == CHOICES_BLOCK else b
                  for b in message.blocks]  # fmt: skip
        return Message(message.text, [*blocks, *extra], message.handoff)

    def handoff_block(self, question_id: str, *, handoff: bool) -> dict[str, Any]:
        """Ask a person: a button that hands the question to staff (`handoff`: the operator set
        HANDOFF_CHANNEL), or else a link to the contact page."""
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": self.catalogue.settings.texts.ask_person_button, "emoji": True},
        }
        if handoff:
            button.update(action_id=HANDOFF_ACTION, value=question_id)
        else:
            button.update(action_id=f"{LINK_ACTION}:handoff", url=self.contact_url)
        return {"type": "actions", "block_id": "handoff", "elements": [button]}

    @property
    def contact_url(self) -> str:
        """Where "Ask a person" goes without a hand-off channel: the contact intent's first link."""
        contact = self.catalogue.get(CONTACT)
        links = [*(contact.links if contact else ()), *((contact.signup,) if contact and contact.signup else ())]
        return links[0].url if links else "https://www.nhsconfed.org/"

    def notice(self, text: str) -> Message:
        return self._finish(text, [SectionBlock(text=MarkdownTextObject(text=text))])

    def home(self, key_points: Intent | None) -> dict[str, Any]:
        """The App Home tab: key points, the offers with their links, and how to ask."""
        blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Messenger review and leadership support"))]
        if key_points is not None:
            blocks.append(_section(fill(key_points, self.commands, key_points.summary)))
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*Our offers to leaders*")))
        blocks.extend(self._offer_sections())
        blocks.append(DividerBlock())
        how = (
            "*How to ask*\nMention me in a channel, send me a direct message, or reply in a thread I have answered. "
            f"Or use `{self.commands.keypoints}` and `{self.commands.messenger} help`."
        )
        blocks.append(SectionBlock(text=MarkdownTextObject(text=how)))
        blocks.append(_context(self.catalogue.settings.contact_text))
        reviewed = self.catalogue.last_reviewed
        if reviewed is not None:
            blocks.append(_context(f"These answers were last checked against their sources on {long_date(reviewed)}."))
        return {"type": "home", "blocks": clean_payload([b.to_dict() for b in blocks[:100]])}

    def _finish(self, text: str, blocks: list[Block]) -> Message:
        payload = [b.to_dict() for b in blocks]
        if len(payload) > MAX_BLOCKS:
            # Keep the source line: it is the member's pointer to where the answer came from.
            payload = payload[: MAX_BLOCKS - 1] + payload[-1:]
        plain = text.replace("\n", " ")
        return Message(text=clean_payload(plain[:SECTION_LIMIT]), blocks=clean_payload(payload))
