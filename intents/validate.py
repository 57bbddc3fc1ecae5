"""One validation pipeline for the content file, used alike by `python -m bot check`, start-up and
hot reload: read the file, parse it against the schema (intents/loader.py, which reads the schema
from the dataclasses in intents/model.py), then run a list of small checks over the catalogue.

The engine's own checks live here; bot/ adds the ones that need Slack (rendering, placeholders) by
passing them in. A check returns problems; an error stops the file going into service, a warning
does not (`check --strict` fails on warnings too).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intents.loader import ContentError, Problem, parse_catalogue, read_content
from intents.model import OFFERS_OVERVIEW, REQUIRED_INTENT_IDS, Catalogue
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
    for intent_id in REQUIRED_INTENT_IDS:
        if catalogue.get(intent_id) is None:
            yield Problem(
                str(catalogue.path), 1, 1, f"intents: the intent '{intent_id}' is missing; the bot's commands need it"
            )


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
    """The offers overview may link an offer only by that offer's own sign-up address."""
    overview = catalogue.get(OFFERS_OVERVIEW)
    if overview is None:
        return
    signups = {offer.signup.url for offer in catalogue.offers if offer.signup is not None}
    for n, link in enumerate(overview.links):
        if link.url not in signups:
            yield Problem(
                str(catalogue.path),
                overview.line_of(f"links.{n}"),
                7,
                f"intent '{OFFERS_OVERVIEW}' field 'links': '{link.label}' ({link.url}) is not any offer's "
                "sign-up address; link each offer by its own `signup:` url",
            )


def engine_checks(today: datetime.date | None = None, *, advice: bool = True) -> list[Check]:
    """The engine's checks. `advice` adds the matcher's advice to editors (examples it would send
    elsewhere, overlapping intents): it scores every example against all the others, about half a
    second, and only ever warns, so start-up and reload, which serve whatever passes, leave it to
    `check`."""
    checks: list[Check] = [required_intents, review_dates(today), offers_agree]
    return [*checks, content_warnings] if advice else checks


def validate_text(text: str, path: Path, checks: Sequence[Check] = (), *, advice: bool = True) -> Validation:
    catalogue, problems = parse_catalogue(text, path)
    if catalogue is None:
        return Validation(None, problems)
    for check in [*engine_checks(advice=advice), *checks]:
        problems.extend(check(catalogue))
    errors = [p for p in problems if p.level == "error"]
    ordered = errors + [p for p in problems if p.level != "error"]
    return Validation(None if errors else catalogue, ordered)


def validate(path: Path, checks: Sequence[Check] = ()) -> Validation:
    """Read and validate a content file: every problem as file:line:column, the catalogue if usable."""
    try:
        text = read_content(path)
    except ContentError as exc:
        return Validation(None, exc.problems)
    return validate_text(text, path, checks)
