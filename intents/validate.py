"""One validation pipeline for the content file, used alike by `python -m bot check`, start-up and
hot reload: read the file, parse it against the schema (intents/loader.py, which reads the schema
from the dataclasses in intents/model.py), then run a list of small checks over the catalogue.

The engine's own checks live here; bot/ adds the ones that need Slack (rendering, placeholders) by
passing them in. A check returns problems; an error stops the file going into service, a warning
does not (`check --strict` fails on warnings too).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intents.loader import ContentError, Problem, iter_texts, missing_required, parse_catalogue, read_content
from intents.model import CONTACT, OFFERS_OVERVIEW, Catalogue, Intent
from intents.quality import content_warnings

Check = Callable[[Catalogue], Iterable[Problem]]


@dataclass(frozen=True)
class Validation:
    """The catalogue (None when there is any error) and every problem found, errors first."""

    catalogue: Catalogue | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def required_intents(catalogue: Catalogue) -> Iterable[Problem]:
    """The intents the code relies on (slash commands, the App Home) must exist."""
    return missing_required(str(catalogue.path), {i.id for i in catalogue.intents})


def review_dates(today: datetime.date | None = None) -> Check:
    """Warn about intents whose `reviewed` date is older than settings.review_after_days (or in the future)."""

    def check(catalogue: Catalogue) -> Iterable[Problem]:
        now = today or datetime.date.today()
        limit = catalogue.settings.review_after_days
        for intent in catalogue.intents:
            if intent.reviewed is None:
                continue
            where = f"intent '{intent.id}' field 'reviewed'"
            age = (now - intent.reviewed).days
            if age > limit:
                yield Problem(
                    str(catalogue.path),
                    intent.line_of("reviewed"),
                    5,
                    f"{where}: last reviewed {intent.reviewed.isoformat()}, {age} days ago (more than "
                    f"settings.review_after_days, {limit}); check it against its sources and update the date",
                    "warning",
                )
            elif age < 0:
                yield Problem(
                    str(catalogue.path),
                    intent.line_of("reviewed"),
                    5,
                    f"{where}: {intent.reviewed.isoformat()} is in the future",
                )

    return check


def offers_agree(catalogue: Catalogue) -> Iterable[Problem]:
    """The offers overview may link an offer only by that open offer's own sign-up address (or the contact
    page): a link to a generic page there reads as a way to join."""
    overview = catalogue.get(OFFERS_OVERVIEW)
    if overview is None:
        return
    signups = {offer.signup.url for offer in catalogue.offers if offer.signup is not None and offer.is_open}
    contact = catalogue.get(CONTACT)
    signups |= {link.url for link in (contact.links if contact else ())}
    for n, link in enumerate(overview.links):
        if link.url not in signups:
            yield Problem(
                str(catalogue.path),
                overview.line_of(f"links.{n}"),
                7,
                f"intent '{OFFERS_OVERVIEW}' field 'links': '{link.label}' ({link.url}) is not any open offer's "
                "sign-up address; link each offer by its own `signup:` url, or the contact page",
            )


def _links_of(intent: Intent) -> list[tuple[str, str]]:
    """(field, address) for every address an intent shows: its source, buttons, sign-up and text links."""
    found = []
    if intent.source is not None:
        found.append(("source", intent.source.url))
    found += [(f"links.{n}", link.url) for n, link in enumerate(intent.links)]
    if intent.signup is not None:
        found.append(("signup", intent.signup.url))
    for text in (intent.summary, intent.more or "", *intent.details):
        found += [("summary", url) for url in _TEXT_URL.findall(text)]
    return found


_TEXT_URL = re.compile(r"<(https://[^|>\s]+)")


def source_register(catalogue: Catalogue) -> Iterable[Problem]:
    """Every address the content cites or links is in the file's own source register (`sources:`), which
    staff keep from shared/content/sources.md: a fresh clone checks its links without that file."""
    path = str(catalogue.path)
    if not catalogue.sources:
        yield Problem(
            path,
            1,
            1,
            "sources: the file has no source register; list every address the bot may "
            "cite or link under `sources:` (from shared/content/sources.md)",
        )
        return
    known = {source.url for source in catalogue.sources}
    s = catalogue.settings
    for name in ("fallback_text", "contact_text"):
        for url in _TEXT_URL.findall(getattr(s, name)):
            if url not in known:
                yield Problem(
                    path,
                    1,
                    1,
                    f"settings.{name}: {url} is not in the source register (`sources:`); "
                    "add it there from shared/content/sources.md, or link an address that is",
                )
    for intent in catalogue.intents:
        for name, url in _links_of(intent):
            if url not in known:
                field_name = name.split(".")[0]
                yield Problem(
                    path,
                    intent.line_of(name),
                    5,
                    f"intent '{intent.id}' field '{field_name}': {url} is not in the source register "
                    "(`sources:`); add it there from shared/content/sources.md, or link an address that is",
                )


def offer_status(today: datetime.date | None = None) -> Check:
    """Only an open offer may carry a sign-up, and only to its own page; an open status goes stale like a
    review date (settings.review_after_days)."""

    def check(catalogue: Catalogue) -> Iterable[Problem]:
        now = today or datetime.date.today()
        path = str(catalogue.path)
        limit = catalogue.settings.review_after_days
        own_pages = {source.url: source.offer_page for source in catalogue.sources}
        for intent in catalogue.intents:
            status, where = intent.status, f"intent '{intent.id}'"
            if intent.signup is not None and status is None:
                yield Problem(
                    path,
                    intent.line_of("signup"),
                    5,
                    f"{where} field 'signup': an offer needs a `status:` (open, closed or unknown, with "
                    "`as_of:`) before it can offer a sign-up",
                )
                continue
            if status is None:
                continue
            line = intent.line_of("status")
            if status.as_of > now:
                yield Problem(
                    path, line, 5, f"{where} field 'status': as_of {status.as_of.isoformat()} is in the future"
                )
            if status.state != "open" and intent.signup is not None:
                yield Problem(
                    path,
                    intent.line_of("signup"),
                    5,
                    f"{where} field 'signup': the offer's status is {status.state}, so it must not offer a "
                    "sign-up; remove `signup:` (keep its pages under `links:`), or confirm it is open",
                )
            if status.state == "open" and intent.signup is None:
                yield Problem(path, line, 5, f"{where} field 'status': an open offer needs its `signup:` link")
            if intent.signup is not None and own_pages.get(intent.signup.url) != intent.id:
                yield Problem(
                    path,
                    intent.line_of("signup"),
                    5,
                    f"{where} field 'signup': {intent.signup.url} is not this offer's own page (no entry "
                    f"in `sources:` has `offer_page: {intent.id}` for it); a sign-up button must go to "
                    "the offer's own page",
                )
            if status.state == "open":
                age = (now - status.as_of).days
                if age > limit:
                    yield Problem(
                        path,
                        line,
                        5,
                        f"{where} field 'status': confirmed open on {status.as_of.isoformat()}, {age} days "
                        f"ago (more than settings.review_after_days, {limit}); confirm it with the "
                        "programme team and update `as_of:`, or set the state to unknown",
                        "warning",
                    )
                if status.closes is not None and status.closes < now:
                    yield Problem(
                        path,
                        line,
                        5,
                        f"{where} field 'status': it closed on {status.closes.isoformat()}; set the state "
                        "to closed, or give the new closing date",
                        "warning",
                    )

    return check


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WRAP = re.compile(r"\n(?!\s*(?:•|-\s|\d+[.)]\s|\n))")


def view_attribution(catalogue: Catalogue) -> Iterable[Problem]:
    """A sentence that gives the Confederation's view (settings.view_phrases) says whose view it is
    (settings.view_markers): "we said", "our view". Otherwise the bot states an opinion as fact."""
    s = catalogue.settings
    if not s.view_phrases:
        return
    markers = s.view_markers
    for where, line, text in iter_texts(catalogue):
        # Wrapped lines join their sentence; a bullet or a new paragraph starts a new one.
        for sentence in _SENTENCE.split(_WRAP.sub(" ", text)):
            lowered = " ".join(sentence.lower().split())
            phrase = next((p for p in s.view_phrases if p in lowered), None)
            if phrase is not None and not any(m in lowered for m in markers):
                yield Problem(
                    str(catalogue.path),
                    line,
                    5,
                    f"{where}: '{phrase}' is the Confederation's view, but its sentence does not say whose view it "
                    f"is; say so in that sentence (for example: {', '.join(repr(m) for m in markers[:3])})",
                )


_NOW_WORDS = re.compile(r"\b(now|current|currently|today|latest)\b", re.IGNORECASE)


def titles_in_time(today: datetime.date | None = None) -> Check:
    """A title never says "now" or "current" over an intent whose newest source is older than
    settings.review_after_days: the heading would claim a present its sources cannot vouch for."""

    def check(catalogue: Catalogue) -> Iterable[Problem]:
        now = today or datetime.date.today()
        dates = {source.url: source.newest_day for source in catalogue.sources}
        limit = catalogue.settings.review_after_days
        for intent in catalogue.intents:
            word = _NOW_WORDS.search(intent.title)
            if word is None:
                continue
            days = [d for _, url in _links_of(intent) if (d := dates.get(url)) is not None]
            newest = max(days) if days else None
            if newest is None or (now - newest).days > limit:
                said = f"its newest source is from {newest.isoformat()}" if newest else "none of its sources is dated"
                yield Problem(
                    str(catalogue.path),
                    intent.line_of("title"),
                    5,
                    f"intent '{intent.id}' field 'title': says '{word.group(0)}', but {said} (more than "
                    f"settings.review_after_days, {limit}, ago); name the date the answer speaks for instead",
                )

    return check


# "Where recommendations 5 to 7 stand", "and where each stands": a heading that promises where things stand
# now, over an answer whose sources may only say what was said on a date. "What we know of where each
# stands" is honest; so is naming the date the answer speaks for.
_STANDING_PROMISE = re.compile(r"(?<!know of )\bwhere (?:[\w,-]+ ){0,5}?stands?\b", re.IGNORECASE)
_HEADING_TEXTS = ("offers_intro", "offers_unclear", "signup_nothing")


def titles_promise_no_standing(catalogue: Catalogue) -> Iterable[Problem]:
    """A title, or a heading of the offers list (settings.texts), never promises where something stands:
    say what the answer gives (e.g. "Recommendations 5 to 7: what the November 2023 answer says") or
    "what we know of where each stands"."""
    path = str(catalogue.path)
    for name in _HEADING_TEXTS:
        found = _STANDING_PROMISE.search(getattr(catalogue.settings.texts, name))
        if found is not None:
            yield Problem(
                path,
                1,
                1,
                f"settings.texts.{name}: '{found.group(0)}' promises where each stands; say 'what we know of "
                "where each stands', or name the date the list speaks for",
            )
    for intent in catalogue.intents:
        found = _STANDING_PROMISE.search(intent.title)
        if found is not None:
            yield Problem(
                path,
                intent.line_of("title"),
                5,
                f"intent '{intent.id}' field 'title': '{found.group(0)}' promises where it stands; name what "
                "the answer gives and its date instead, such as 'what the November 2023 answer says'",
            )


def _texts_of(intent: Intent) -> Iterable[tuple[str, int, str]]:
    """(field, line, text) of what a member reads of an intent besides its title, wrapped lines joined
    (a bullet or a numbered line keeps its own)."""
    for name, texts in (("summary", (intent.summary,)), ("details", intent.details), ("more", (intent.more or "",))):
        for text in texts:
            if text:
                yield name, intent.line_of(name), _WRAP.sub(" ", text)


def _sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE.split(text) if s.strip()]


# Words that say where an offer stands today: the bot says that itself, from the offer's `status:`.
_STANDING = re.compile(
    r"\b(?:still (?:runs?|running|open|takes?|taking|exists?|available|on offer|going)"
    r"|no longer (?:runs?|running|open|available|on offer)"
    r"|(?:is|are) (?:now |currently |still )?(?:open|closed|running)\b"
    r"|(?:has|have) (?:now )?(?:closed|opened)"
    r"|(?:next|current) cohorts?|current dates|dates and places"
    r"|open for (?:sign-?ups?|applications|bookings|registration)"
    r"|whether (?:it|they|this|these|the \w+) (?:still )?(?:runs?|continues?)"
    r"|currently (?:runs?|running|open))",
    re.IGNORECASE,
)


def offer_standing(catalogue: Catalogue) -> Iterable[Problem]:
    """An offer's standing is said once, by the bot, from its `status:`, in every reply that shows the offer:
    text that says it by hand ("our sources do not say whether it still runs") contradicts the status the
    day staff change it. The offers overview lists every offer, so its text is held to the same rule. And
    a sign-up button is the only button to its address: a link to the same page repeats it (a warning:
    the bot shows one button per address whatever the file says)."""
    path = str(catalogue.path)
    for intent in catalogue.intents:
        if not intent.is_offer and intent.id != OFFERS_OVERVIEW:
            continue
        for name, line, text in [("title", intent.line_of("title"), intent.title), *_texts_of(intent)]:
            for sentence in _sentences(text):
                found = _STANDING.search(sentence)
                if found is not None:
                    yield Problem(
                        path,
                        line,
                        5,
                        f"intent '{intent.id}' field '{name}': '{found.group(0)}' says where an offer stands; the bot "
                        "says that itself, from the offer's `status:`, in every reply that shows it, so leave it out "
                        "of the text (to change what members are told, change `status:`)",
                    )
        if intent.signup is not None:
            for n, link in enumerate(intent.links):
                if link.url == intent.signup.url:
                    yield Problem(
                        path,
                        intent.line_of(f"links.{n}"),
                        7,
                        f"intent '{intent.id}' field 'links': '{link.label}' repeats the sign-up address "
                        f"({link.url}); the sign-up button already goes there, so delete this link",
                        "warning",
                    )


def register_references(catalogue: Catalogue) -> Iterable[Problem]:
    """The register's `for_offers:` names offers and its `reports_on:` names intents that exist."""
    ids = {i.id for i in catalogue.intents}
    offers = {i.id for i in catalogue.offers}
    for source in catalogue.sources:
        for name, refs in (("for_offers", source.for_offers), ("reports_on", source.reports_on)):
            for ref in refs:
                if ref not in ids:
                    problem = f"no intent has the id '{ref}'"
                elif name == "for_offers" and ref not in offers:
                    problem = f"'{ref}' is not an offer (it has no `status:`)"
                else:
                    continue
                where = f"sources entry {source.url} field '{name}'"
                yield Problem(str(catalogue.path), source.line, 5, f"{where}: {problem}")


def offer_links(catalogue: Catalogue) -> Iterable[Problem]:
    """An offer's buttons go only to pages the register names for that offer: its own page (`offer_page:`)
    or a page listed for it (`for_offers:`), so a report on something else is never shown as the offer."""
    register = {source.url: source for source in catalogue.sources}
    for offer in catalogue.offers:
        for n, link in enumerate(offer.links):
            entry = register.get(link.url)
            if entry is None or entry.offer_page == offer.id or offer.id in entry.for_offers:
                continue  # an address not in the register at all is source_register's to report
            yield Problem(
                str(catalogue.path),
                offer.line_of(f"links.{n}"),
                7,
                f"intent '{offer.id}' field 'links': '{link.label}' goes to {link.url}, which the register does "
                f"not name as this offer's page (its entry, '{entry.title}', has neither `offer_page: {offer.id}` "
                f"nor {offer.id} under `for_offers:`); link the offer's own pages only, or, if the shared source "
                "list names this page for the offer, add the offer to the entry's `for_offers:`",
            )


_REC_NAMED = re.compile(r"\brecommendation (\d+): ([^.*;:\n]+)", re.IGNORECASE)
_REC_ITEM = re.compile(r"^\s*(\d+)[.)] ([^\n]+)", re.MULTILINE)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def recommendation_wording(catalogue: Catalogue) -> Iterable[Problem]:
    """An answer that cites a source holding the recommendations in its own words (`recommendations:` in
    the register: the government's review page) gives each recommendation it names in those words:
    "Recommendation 6: ..." or a numbered line "6. ...". A paraphrase may follow them, never replace them."""
    worded = {source.url: source for source in catalogue.sources if source.recommendations}
    for intent in catalogue.intents:
        cited = [worded[url] for _, url in _links_of(intent) if url in worded]
        if not cited:
            continue
        source = cited[0]
        for name, line, text in _texts_of(intent):
            found = [*_REC_NAMED.finditer(text), *_REC_ITEM.finditer(text)]
            for match in found:
                number, said = int(match.group(1)), " ".join(match.group(2).split()).strip(" *_")
                if not 1 <= number <= len(source.recommendations):
                    continue
                own = source.recommendations[number - 1]
                if _words(said)[: len(_words(own))] != _words(own):
                    yield Problem(
                        str(catalogue.path),
                        line,
                        5,
                        f"intent '{intent.id}' field '{name}': recommendation {number} is given as '{said}', but "
                        f"the answer cites {source.title} ({source.publisher}), whose words are '{own}'; use its "
                        "words (your own may follow them)",
                    )


_NO_UPDATE = re.compile(
    r"\b(?:no|not any) (?:[\w-]+ ){0,3}?(?:updates?|news|progress)\b|\bnothing (?:more|new|later)\b"
    r"|\bnone of (?:the|our) (?:later )?sources\b",
    re.IGNORECASE,
)
_NUMBER_RANGE = re.compile(r"\b(\d{1,2})\s*(?:to|-|–)\s*(\d{1,2})\b|\b(\d{1,2})\b")


def _recommendations_named(sentence: str, numbered: dict[int, str]) -> set[str]:
    """The recommendation intents a sentence names by number ("5 to 7", "6 and 7", "recommendation 5")."""
    found: set[int] = set()
    for match in _NUMBER_RANGE.finditer(sentence):
        if match.group(3) is not None:
            found.add(int(match.group(3)))
        else:
            found.update(range(int(match.group(1)), int(match.group(2)) + 1))
    return {numbered[n] for n in found if n in numbered}


def no_update_claims(catalogue: Catalogue) -> Iterable[Problem]:
    """A sentence that says there is no update (no news, no progress) on a topic is refused when the
    register holds a source that reports on that topic (`reports_on:`) and is dated after the topic's own
    source: the claim is then contradicted by our own sources. A sentence's topics are its intent, the
    topics it reports on (`status_of:`) and the recommendations it names by number."""
    register = {source.url: source for source in catalogue.sources}
    numbered = {i.recommendation_number: i.id for i in catalogue.intents if i.recommendation_number is not None}

    def base_day(topic_id: str) -> datetime.date | None:
        topic = catalogue.get(topic_id)
        entry = register.get(topic.source.url) if topic is not None and topic.source is not None else None
        return entry.newest_day if entry is not None else None

    for intent in catalogue.intents:
        for name, line, text in _texts_of(intent):
            for sentence in _sentences(text):
                claim = _NO_UPDATE.search(sentence)
                if claim is None:
                    continue
                topics = [intent.id, *intent.status_of, *sorted(_recommendations_named(sentence, numbered))]
                for topic in dict.fromkeys(topics):
                    base = base_day(topic)
                    later = [
                        s
                        for s in catalogue.sources
                        if topic in s.reports_on and (day := s.newest_day) is not None and (base is None or day > base)
                    ]
                    if later:
                        yield Problem(
                            str(catalogue.path),
                            line,
                            5,
                            f"intent '{intent.id}' field '{name}': '{claim.group(0)}' says there is no update on "
                            f"'{topic}', but the register holds a later source that reports on it: "
                            f"{later[0].title} ({later[0].date}); say what that source reports instead",
                        )
                        break


def engine_checks(
    today: datetime.date | None = None, *, advice: bool = True, advice_cache: Path | None = None
) -> list[Check]:
    """The engine's checks. `advice` adds the model's advice to editors (examples it would send
    elsewhere, overlapping intents): it scores every example against all the others, about half a
    second, and only ever warns, so start-up and reload, which serve whatever passes, leave it to
    `check`. `advice_cache`: the folder where the advice is kept between runs (intents/quality.py)."""
    checks: list[Check] = [
        required_intents,
        review_dates(today),
        offers_agree,
        source_register,
        offer_status(today),
        view_attribution,
        titles_in_time(today),
        titles_promise_no_standing,
        offer_standing,
        register_references,
        offer_links,
        recommendation_wording,
        no_update_claims,
    ]
    return [*checks, functools.partial(content_warnings, cache_dir=advice_cache)] if advice else checks


def validate_text(
    text: str, path: Path, checks: Sequence[Check] = (), *, advice: bool = True, advice_cache: Path | None = None
) -> Validation:
    catalogue, problems = parse_catalogue(text, path)
    if catalogue is None:
        return Validation(None, problems)
    for check in [*engine_checks(advice=advice, advice_cache=advice_cache), *checks]:
        problems.extend(check(catalogue))
    errors = [p for p in problems if p.level == "error"]
    ordered = errors + [p for p in problems if p.level != "error"]
    return Validation(None if errors else catalogue, ordered)


def validate(
    path: Path, checks: Sequence[Check] = (), advice_cache: Path | None = None, *, advice: bool = True
) -> Validation:
    """Read and validate a content file: every problem as file:line:column, the catalogue if usable.
    `advice`: the model's advice to editors too (a few seconds when examples changed)."""
    try:
        text = read_content(path)
    except ContentError as exc:
        return Validation(None, exc.problems)
    return validate_text(text, path, checks, advice=advice, advice_cache=advice_cache)
