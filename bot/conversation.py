"""The conversation: whether the bot answers, what, how, and what the conversation remembers, decided once
for every surface (a mention, a DM, a thread reply, a slash command, a button, the sandbox and
`python -m bot ask`). The listeners only translate Slack in (a `Heard`) and out (a `Turn`'s message);
where a reply goes is bot/routing.py's; dedupe, limits, posting and the question log are theirs.

Whether: in a DM, a command, a click and wherever it is mentioned, the bot always answers. In a channel
thread it answered before, people go on talking, mostly to each other; there it speaks only when a
message is plainly for it (`in_channel_thread`):
- a follow-up of the thread's topic ("how do I sign up?", "tell me more"), or
- a clear question on one of its topics: it asks something (a question mark, or an opening that asks
  or requests) and the model gives a topic at least CLEAR probable;
and it stays quiet for everything else, in particular:
- anything it would answer "I don't know" to (never posted where nobody asked it),
- small talk and acknowledgements ("ok", "thanks", "+1", an emoji): no message,
- remarks that ask nothing ("the bullying bits are grim reading"), however topical,
- a message addressed to someone else: one that mentions another person, or opens with a name and a
  comma or colon, or a name and a word spoken to its owner ("Sam, can you...", "Leah did you see...").
What and how: the engine's answer (intents/pipeline.py), or the command's or the clicked topic's; then an
answer, a question back with up to three choices (the engine's "ask" mode), or "I don't know" with
"did you mean"; each with its feedback row. What it remembers: the topic the next message follows.
No Slack here: plain data in, plain data and Block Kit out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.blocks import CHOICES_BLOCK, Message
from bot.content import Content
from bot.routing import MemberCommand
from intents import Answer, Intent
from intents.model import CONTACT, HELP, KEY_POINTS, OFFERS_OVERVIEW, RECOMMENDATIONS

# How probable a topic must be for the bot to speak, unasked, in a channel thread: higher than the
# threshold for answering at all, since a wrong answer there talks over people.
CLEAR = 0.6
# "<@U0123ABC>" naming someone, or an opening "Sam," / "Priya:" / "@sam": spoken to a person.
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_VOCATIVE = re.compile(r"^\s*@?[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\s*[,:]")
# An opening name then a word that speaks to its owner ("Sam can you...", "Leah did you see..."): the
# first word is capitalised and is none of the words a question or a sentence starts with.
_NAME_THEN = re.compile(r"^\s*([A-Z][a-z]+)\s+(you|can|could|did|do|have|are|will|would|pls|please)\b")
_OPENERS = frozenset(
    """what who whom whose how when where why which is are was were do does did can could will would shall
    should may might has have had any anyone anything tell show give explain link send share please pls
    and also so ok okay thanks thank hi hello hey morning i im we our my the this that there it if""".split()
)
# A message that asks something: a question mark, or an opening that asks or requests.
_ASKS = re.compile(
    r"\?|^\s*(what|who|whom|whose|how|when|where|why|which|is|are|was|were|do|does|did|can|could|will|would|"
    r"should|has|have|any|tell|show|give|explain|link|send|share|remind|summari[sz]e|pls|please)\b",
    re.IGNORECASE,
)
# Small talk: the bot says these only to someone who spoke to it.
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye"})


@dataclass(frozen=True)
class Verdict:
    speak: bool
    why: str  # the request log's outcome when quiet


def to_someone_else(text: str, bot_user_id: str | None) -> bool:
    """Whether the message is addressed to a person other than the bot."""
    if any(user != bot_user_id for user in _MENTION.findall(text)):
        return True
    named = _NAME_THEN.match(text)
    return bool(_VOCATIVE.match(text)) or (named is not None and named.group(1).lower() not in _OPENERS)


def asks(text: str) -> bool:
    """Whether the message asks for something, rather than tells people something."""
    return bool(_ASKS.search(text))


def in_channel_thread(answer: Answer, text: str, bot_user_id: str | None) -> Verdict:
    """Whether to post this answer to an unaddressed message in a channel thread the bot answered."""
    if to_someone_else(text, bot_user_id):
        return Verdict(False, "quiet:to_someone_else")
    if answer.is_fallback or answer.intent is None:
        return Verdict(False, "quiet:not_for_bot")
    if answer.followup:
        return Verdict(True, "")
    if answer.intent.id in SMALL_TALK:
        return Verdict(False, "quiet:small_talk")
    if not asks(text):
        return Verdict(False, "quiet:not_a_question")
    if answer.confidence < CLEAR:
        return Verdict(False, "quiet:unsure")
    return Verdict(True, "")


# --- one turn of the conversation ---

# Where the member spoke: the question log's surfaces, and "cli" for `python -m bot ask` (never logged).
Said = Literal["dm", "mention", "thread", "command", "button", "cli"]
# What a command's reply was, when no intent answered: the fallback, a list to choose from, a usage note.
FALLBACK = "fallback"
# Replies that answer nothing a member could rate: a list to choose from, or a usage note.
NOT_ANSWERS = frozenset({"signup_list", "recommendation_unknown"})
# A question id for a reply nobody can click (`python -m bot ask`): its buttons carry it, and go nowhere.
NO_QUESTION = "0" * 16


@dataclass(frozen=True)
class Heard:
    """What a member said, as the conversation needs it: no Slack.

    `said`: where. `previous`: the topic the conversation is on (what it remembered last time).
    `command`: a slash command's text (`said` "command"). `picked`: a topic button's intent (`said`
    "button"). `bot_user_id`: the bot's own id, to tell a mention of the bot from one of a person."""

    text: str
    said: Said
    previous: str | None = None
    command: MemberCommand | None = None
    picked: Intent | None = None
    bot_user_id: str | None = None
    shareable: bool = False  # the reply is seen by the member alone (a command, a click on one): offer Share

    @property
    def addressed(self) -> bool:
        """Spoken to the bot: everything but a reply in a channel thread without a mention."""
        return self.said != "thread"


@dataclass(frozen=True)
class Turn:
    """What the conversation does with what it heard.

    `speak` False: nothing is posted, counted or logged; `outcome` says why (the request log's word).
    Otherwise `message` is what Slack shows (feedback row and choices included), `outcome` is
    "answered", "asked" (a question back with choices) or "fallback", `what` the intent (or the
    command's reply) that answered, and `remember` the topic the conversation is on afterwards."""

    speak: bool
    outcome: str
    said: Said
    what: str | None = None
    answer: Answer | None = None
    message: Message | None = None
    remember: str | None = None

    @property
    def intent(self) -> str | None:
        """The intent the question log records: the answer's, or a command's reply that is an intent."""
        if self.answer is not None:
            return self.answer.intent.id if self.answer.intent else None
        return None if self.what in (None, FALLBACK) or self.what in NOT_ANSWERS else self.what

    @property
    def confidence(self) -> float | None:
        return self.answer.confidence if self.answer is not None else None

    @property
    def choices(self) -> tuple[Intent, ...]:
        """The topics the reply offers as buttons: the question back's choices, or "did you mean"."""
        if self.answer is None or not (self.answer.mode == "ask" or self.answer.is_fallback):
            return ()
        return self.answer.alternatives[:3]


def take_turn(content: Content, heard: Heard, *, question_id: str = NO_QUESTION, handoff: bool = False) -> Turn:
    """The one decision of a turn: whether to answer, what, how, and what to remember.

    `question_id` goes on the reply's buttons (feedback, Ask a person, the choices: a click on a choice is
    kept with this question). `handoff`: Ask a person posts to the staff channel (else it opens the
    contact page)."""
    renderer = content.renderer
    if heard.command is not None:
        what, message, answer = command_reply(content, heard.command)
    else:
        if heard.picked is not None:
            answer = Answer.chosen(heard.picked)
        else:
            answer = content.engine.answer(heard.text, heard.previous)
        if not heard.addressed:
            etiquette = in_channel_thread(answer, heard.text, heard.bot_user_id)
            if not etiquette.speak:
                return Turn(False, etiquette.why, heard.said, answer=answer)
        what = answer.intent.id if answer.intent else FALLBACK
        message = renderer.answer(answer, shareable=heard.shareable)
    if what not in NOT_ANSWERS:
        # A fallback, a question back and the contact answer offer a person; an answer asks for a vote.
        unsure = answer is not None and answer.mode == "ask"
        person = unsure or offers_person(None if what == FALLBACK else what)
        message = renderer.with_feedback(message, question_id, fallback=person, handoff=handoff)
    elif message.handoff:  # a list of offers none of which is open: the team knows what runs now
        message = Message(message.text, [*message.blocks, renderer.handoff_block(question_id, handoff=handoff)])
    if answer is not None and answer.mode == "ask":
        outcome = "asked"
    else:
        outcome = "fallback" if what == FALLBACK else "answered"
    remember = None if answer is None or heard.said == "command" else next_topic(answer, heard.previous)
    return Turn(True, outcome, heard.said, what, answer, message, remember)


def command_reply(content: Content, command: MemberCommand) -> tuple[str, Message, Answer | None]:
    """A member's command answered from the content: (what it was, the ephemeral reply, and the engine's
    answer when the command was a question: `/messenger <any question>`)."""
    renderer = content.renderer
    text = command.text
    words = "key-points" if command.keypoints else text.strip().lower()
    fixed = {
        "": HELP,
        "help": HELP,
        "key-points": KEY_POINTS,
        "keypoints": KEY_POINTS,
        "key points": KEY_POINTS,
        "recommendations": RECOMMENDATIONS,
        "recs": RECOMMENDATIONS,
    }
    if words == "offers":
        return OFFERS_OVERVIEW, renderer.offers(content.catalogue.settings.texts.offers_intro, shareable=True), None
    if words in fixed:
        answer = _intent_answer(content, fixed[words], text)
        if answer is not None:
            return fixed[words], renderer.answer(answer, shareable=True), None
    if _REC.match(words):
        target = content.engine.recommendation_named(words)
        answer = _intent_answer(content, target.id, text) if target else None
        if answer is not None and answer.intent is not None:
            return answer.intent.id, renderer.answer(answer, shareable=True), None
        count = content.engine.recommendation_count
        usage = f"There are {count} recommendations: try `recommendation 1` to `recommendation {count}`."
        return "recommendation_unknown", renderer.notice(usage), None
    if words in ("signup", "sign up", "sign-up") or words.startswith(("signup ", "sign up ", "sign-up ")):
        offer_text = re.sub(r"^sign[\s-]?up\s*", "", words)
        offer = content.engine.signup_offer(offer_text)
        if offer is None:
            wording = content.catalogue.settings.texts
            intro = wording.offers_unclear if offer_text else wording.offers_intro
            return "signup_list", renderer.offers(intro), None
        return offer.id, renderer.answer(Answer.chosen(offer, "signup", text), shareable=True), None
    answer = content.engine.answer(text)
    return answer.intent.id if answer.intent else FALLBACK, renderer.answer(answer, shareable=True), answer


_REC = re.compile(r"^(?:recommendation|rec)\s*(?:no\.?|number|#)?\s*(\S+)$")


def _intent_answer(content: Content, intent_id: str, question: str) -> Answer | None:
    intent = content.catalogue.get(intent_id)
    if intent is None:
        return None
    return Answer.chosen(intent, question=question)


def next_topic(answer: Answer, previous: str | None) -> str:
    """What the conversation is about after this answer: a topic answered becomes it; a fallback ends the
    old one ("" = answered, no topic, so a rephrased question in the thread is still heard); small talk
    ("thanks") keeps it; a question back keeps it until the member picks."""
    if answer.intent is None:
        return ""
    if answer.mode == "ask":
        return previous or ""
    return answer.intent.id if answer.intent.is_topic else (previous or "")


def offers_person(intent_id: str | None) -> bool:
    """A fallback (None), or a member asking for a person ("can a real person help?": the contact intent),
    gets the Ask a person button instead of Helpful / Not helpful: in a message, a command or a click."""
    return intent_id is None or intent_id == CONTACT


_CHOICES = re.compile(rf"^{CHOICES_BLOCK}:([0-9a-f]{{16}})$")


def picked_for(block_id: str | None) -> str | None:
    """The question whose choices a clicked button was among (the block's id carries it), or None."""
    found = _CHOICES.match(block_id or "")
    return found.group(1) if found else None
