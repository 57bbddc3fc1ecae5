"""Whether the bot speaks in a channel thread nobody addressed it in: the guest's etiquette, decided once.

In a DM, and wherever it is mentioned, the bot always answers. In a channel thread it answered before,
people go on talking, mostly to each other; there it speaks only when a message is plainly for it:
- a follow-up of the thread's topic ("how do I sign up?", "tell me more"), or
- a clear question on one of its topics: it asks something (a question mark, or an opening that asks
  or requests) and the model gives a topic at least CLEAR probable;
and it stays quiet for everything else, in particular:
- anything it would answer "I don't know" to (never posted where nobody asked it),
- small talk and acknowledgements ("ok", "thanks", "+1", an emoji): no message,
- remarks that ask nothing ("the bullying bits are grim reading"), however topical,
- a message addressed to someone else: one that mentions another person, or opens with a name and a
  comma or colon, or a name and a word spoken to its owner ("Sam, can you...", "Leah did you see...").
No Slack here: plain text and the engine's Answer in, a verdict out (the listener and the thread
measurement, tests/test_threads.py, use the same function).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intents import Answer

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
