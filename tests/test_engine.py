"""The engine on its own, no Slack. Stage tests run on small catalogues written here, so an edit to
responses.yaml cannot break them; a handful at the end check the shipped content."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import intents.classifier
from intents import Engine, load_catalogue
from intents.classifier import build_pipeline, training_data
from intents.evaluate import evaluate, format_evaluation, read_labelled
from intents.explain import explain
from intents.loader import parse_catalogue
from intents.model import Catalogue
from intents.training import LabelledQuestion
from tests.conftest import RESPONSES


def _intent(id: str, examples: list[str], extra: str = "") -> str:
    lines = "\n".join(f"      - {e}" for e in examples)
    return f"""\
  - id: {id}
    title: About {id}
    reviewed: 2026-11-01
    source: {{label: The briefing, url: "https://www.nhsconfed.org/"}}
    examples:
{lines}
    summary: A summary of {id}, long enough to pass the minimum length check for summaries.
    links:
      - {{label: Read, url: "https://www.nhsconfed.org/{id}"}}
{extra}"""


FIXTURE = (
    """\
settings:
  confidence_threshold: 0.3
  suggestion_floor: 0.1
  fallback_text: I don't know.
  contact_text: Ask the team.
  default_source: The briefing
  status_words: [yet, progress, now]
  followups:
    more: [tell me more, more please, go on]
    signup: [how do I sign up, how do I join, sign me up]
    read: [where can I read it, link please]
  out_of_scope:
    everyday:
      - what's the weather like tomorrow
      - will it rain this weekend
      - how do I renew my passport
      - best pizza near me
      - what time is it in Tokyo
      - how do I reset my router
      - who won the football last night
      - recipe for lasagne
      - book me a train to Manchester
      - how tall is Everest
intents:
"""
    + _intent(
        "gardens",
        [
            "how do I grow tomatoes",
            "tomato plants wilting",
            "when to plant tomatoes",
            "growing tomatoes in pots",
            "best soil for tomatoes",
            "tomato seedlings advice",
            "feeding tomato plants",
            "why are my tomatoes splitting",
        ],
    )
    + _intent(
        "bikes",
        [
            "how do I fix a flat bike tyre",
            "bike chain keeps slipping",
            "adjust bicycle brakes",
            "bike gears not changing",
            "which bike tyre pressure",
            "oil my bicycle chain",
            "bike wheel wobbles",
            "squeaky bicycle pedals",
        ],
    )
    + _intent(
        "club",
        [
            "tell me about the cycling club",
            "what is the cycling club",
            "cycling club rides",
            "who runs the cycling club",
            "cycling club membership",
            "is the cycling club for beginners",
            "where does the cycling club meet",
            "cycling club weekend rides",
        ],
        '    signup: {label: Join, url: "https://www.nhsconfed.org/join"}\n',
    )
    + _intent(
        "club_news",
        [
            "what has the cycling club done lately",
            "latest club news",
            "what happened at the club recently",
            "club updates this year",
            "recent club activity",
            "how is the club doing",
            "club progress report",
            "what is new at the club",
        ],
        "    status_of: [club]\n",
    )
)


@pytest.fixture(scope="module")
def fixture_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    path = tmp_path_factory.mktemp("fixture") / "responses.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    catalogue, problems = parse_catalogue(FIXTURE, path)
    assert catalogue is not None, problems
    return catalogue


@pytest.fixture(scope="module")
def fx(fixture_catalogue: Catalogue) -> Engine:
    return Engine(fixture_catalogue)


# --- classify and fallback ---


@pytest.mark.parametrize(
    ("question", "intent"),
    [("my tomato plants are wilting", "gardens"), ("the chain on my bike slips", "bikes"),
     ("what's the cycling club?", "club")],
)  # fmt: skip
def test_classify_answers_with_the_closest_intent_and_says_so(fx: Engine, question: str, intent: str) -> None:
    answer = fx.answer(question)
    assert answer.intent is not None and answer.intent.id == intent
    assert answer.reasons[-1][0] == "classify" and answer.reasons[-1][1].startswith(intent)
    assert 0 < answer.confidence <= 1 and answer.ranked[0] == (intent, pytest.approx(answer.confidence, abs=1e-4))


def test_probabilities_sum_to_one(fx: Engine) -> None:
    assert sum(p for _, p in fx.answer("tomatoes").ranked) == pytest.approx(1.0)


QUESTIONS = [
    "my tomato plants are wilting",
    "the chain on my bike slips",
    "what's the cycling club?",
    "tomatoes",
    "will it rain in Leeds tomorrow?",
    "",
    "zzz qqq",
    "club club club club",
    "Café bikes, gardens & clubs!",
]


@pytest.mark.parametrize("intents", [None, 1])
def test_an_answers_probabilities_are_scikit_learns_own(fixture_catalogue: Catalogue, intents: int | None) -> None:
    """The confidence and alternatives an answer carries are the probabilities scikit-learn's own pipeline,
    fitted on the same examples, gives: also with only two labels (one intent and off-topic), where the
    SVM gives one decision value."""
    catalogue = replace(fixture_catalogue, intents=fixture_catalogue.intents[:intents])
    engine = Engine(catalogue)
    texts, labels, _ = training_data(catalogue)

    def read(text: str) -> str:
        return " ".join(catalogue.vocabulary.normalise(text))

    reference = build_pipeline().fit([read(t) for t in texts], labels)
    expected = reference.predict_proba([read(q) for q in QUESTIONS])
    for question, row in zip(QUESTIONS, expected, strict=True):
        answer = engine.answer(question)
        got = dict(answer.ranked)
        assert [got[str(label)] for label in reference.classes_] == pytest.approx(list(row), abs=1e-9), question
        if not answer.is_fallback:
            assert answer.confidence == pytest.approx(max(row), abs=1e-4)


def test_off_topic_falls_back_with_its_reason(fx: Engine) -> None:
    answer = fx.answer("will it rain in Leeds tomorrow?")
    assert answer.is_fallback and answer.mode == "fallback"
    assert [stage for stage, _ in answer.reasons] == ["classify", "fallback"]
    assert answer.reasons[-1][1].startswith("off-topic")


def test_a_threshold_above_every_probability_falls_back(fixture_catalogue: Catalogue) -> None:

    strict = Engine(replace(fixture_catalogue, settings=replace(fixture_catalogue.settings, confidence_threshold=1.5)))
    answer = strict.answer("my tomato plants are wilting")
    assert answer.is_fallback and "< threshold 1.5" in answer.reasons[-1][1]
    # "Did you mean" offers the topic that was too unsure to answer.
    assert [i.id for i in answer.alternatives][:1] == ["gardens"]


# --- follow-ups and conversation ---


def test_a_bare_followup_phrase_follows_the_topic(fx: Engine) -> None:
    answer = fx.answer("how do I sign up?", previous_intent="club")
    assert answer.followup and answer.mode == "signup" and answer.intent is not None and answer.intent.id == "club"
    assert answer.reasons[-1][0] == "followup"


def test_a_message_with_a_topic_of_its_own_is_a_new_question(fx: Engine) -> None:
    answer = fx.answer("how do I renew my passport?", previous_intent="club")
    assert not answer.followup and answer.is_fallback
    answer = fx.answer("how do I fix my bike brakes?", previous_intent="club")
    assert not answer.followup and answer.intent is not None and answer.intent.id == "bikes"


def test_without_a_topic_a_followup_phrase_is_just_a_question(fx: Engine) -> None:
    assert not fx.answer("tell me more").followup
    assert not fx.answer("tell me more", previous_intent="").followup


def test_without_the_followup_stage_the_topic_is_ignored(fx: Engine) -> None:
    assert not fx.answer("how do I sign up?", previous_intent="club", without={"followup"}).followup


# --- status ---


def test_asking_where_a_topic_stands_goes_to_its_status_intent(fx: Engine) -> None:
    answer = fx.answer("has the cycling club started yet?")
    assert answer.intent is not None and answer.intent.id == "club_news"
    assert "status" in dict(answer.reasons)
    plain = fx.answer("has the cycling club started yet?", without={"status"})
    assert plain.intent is not None and plain.intent.id == "club"


# --- the pipeline's shape ---


def test_the_published_reasons_follow_the_stages_in_order(fx: Engine) -> None:
    """The why panel and `bot report` read an answer's reasons: one per stage that acted, in the order
    normalise, followup, classify, status, fallback."""
    assert [s for s, _ in fx.answer("has the cycling club started yet?").reasons] == ["classify", "status"]
    assert [s for s, _ in fx.answer("will it rain this weekend?").reasons] == ["classify", "fallback"]
    assert [s for s, _ in fx.answer("sign me up", previous_intent="club").reasons] == ["followup"]


@pytest.mark.parametrize("stage", ["classify", "fallback", "normalise", "nonsense"])
def test_a_required_or_unknown_stage_cannot_be_left_out(fx: Engine, stage: str) -> None:
    with pytest.raises(ValueError, match=stage):
        fx.answer("tomatoes", without={stage})


def test_the_same_training_data_trains_once(fixture_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload of unchanged content answers at once: a second engine on the same examples fits no model."""
    fits: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        fits.append(args)
        return build_pipeline(*args, **kwargs)

    first = Engine(fixture_catalogue)
    monkeypatch.setattr(intents.classifier, "build_pipeline", counted)
    second = Engine(fixture_catalogue)
    assert fits == []
    for question in QUESTIONS:
        assert second.answer(question) == first.answer(question)


def test_a_fitted_model_is_kept_for_other_processes(
    fixture_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One fit per training data on this machine: another process (here, an empty memo), with the content at
    another path, loads the kept model instead of fitting; a change to what it learns from fits anew."""
    monkeypatch.setattr(intents.classifier, "_memo", type(intents.classifier._memo)())
    first = Engine(fixture_catalogue, tmp_path)
    assert len(list(tmp_path.glob("model-*.pickle"))) == 1
    monkeypatch.setattr(intents.classifier, "_memo", type(intents.classifier._memo)())  # another process
    fits: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        fits.append(args)
        return build_pipeline(*args, **kwargs)

    monkeypatch.setattr(intents.classifier, "build_pipeline", counted)
    moved = replace(fixture_catalogue, path=tmp_path / "elsewhere.yaml")
    second = Engine(moved, tmp_path)
    assert fits == [] and all(second.answer(q) == first.answer(q) for q in QUESTIONS)
    extra = LabelledQuestion("a new off-topic line about parking", None, 1)
    changed = replace(moved, training=(*moved.training, extra))
    Engine(changed, tmp_path)
    assert len(fits) == 1 and len(list(tmp_path.glob("model-*.pickle"))) == 2


def test_an_engine_pickles_for_the_content_cache(fx: Engine) -> None:
    again = pickle.loads(pickle.dumps(fx))
    assert again.answer("tomato seedlings").intent.id == "gardens"  # type: ignore[union-attr]


def test_explain_reads_the_answers_reasons(fx: Engine) -> None:
    answer = fx.answer("my tomato plants are wilting")
    why = explain(fx, answer)
    assert why.intent_id == "gardens" and why.reasons == answer.reasons and why.threshold == 0.3
    assert why.best_of_intent is not None and why.best_of_intent.intent_id == "gardens"
    assert all(label != "gardens" for label, _ in why.alternatives)


def test_signup_offer_names_the_offer(fx: Engine) -> None:
    assert fx.signup_offer("cycling club").id == "club"  # type: ignore[union-attr]
    assert fx.signup_offer("   ") is None


# --- training files beside the content ---


def test_training_files_teach_and_bad_labels_are_named(tmp_path: Path) -> None:
    path = tmp_path / "responses.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "staff.tsv").write_text("# comment\nmy roses have greenfly\tgardens\n", encoding="utf-8")
    assert [q.question for q in load_catalogue(path).training] == ["my roses have greenfly"]
    (tmp_path / "training" / "bad.tsv").write_text("a question\tno_such_intent\nno tab here\n", encoding="utf-8")
    catalogue, problems = parse_catalogue(FIXTURE, path)
    assert catalogue is None
    bad = str(tmp_path / "training" / "bad.tsv")
    assert [(p.path, p.line) for p in problems] == [(bad, 1), (bad, 2)]
    assert "unknown intent id 'no_such_intent'" in problems[0].message


def test_evaluate_counts_and_formats(fx: Engine, tmp_path: Path) -> None:
    labelled = tmp_path / "set.tsv"
    labelled.write_text("tomato plants\tgardens\nis it raining\tnone\n", encoding="utf-8")
    report = evaluate(fx, read_labelled(labelled, {"gardens", "bikes", "club", "club_news"}))
    assert (report.in_scope, report.out_of_scope, report.total) == (1, 1, 2)
    assert "in-scope top-1 accuracy" in format_evaluation(report)


# --- plain functions ---


def test_slack_markup_in_a_question_changes_nothing(fx: Engine) -> None:
    """A mention, a broadcast or a link in the question is not read as words of it."""
    plain = fx.answer("my tomato plants are wilting")
    marked = fx.answer("<!here> my tomato plants are wilting <@U123> <https://example.org|see>")
    assert (marked.intent, marked.mode, marked.confidence) == (plain.intent, plain.mode, plain.confidence)


# --- the shipped content: a handful of what members ask most ---


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine(load_catalogue(RESPONSES))


@pytest.mark.parametrize(
    ("question", "intent"),
    [("what are your key points on the Messenger review?", "key_points"),
     ("what were the seven recommendations?", "recommendations"),
     ("tell me about the EDI programme", "offer_edi_programme"),
     ("how do I talk to a person at the Confederation?", "contact")],
)  # fmt: skip
def test_shipped_content_answers_the_key_questions(shipped: Engine, question: str, intent: str) -> None:
    answer = shipped.answer(question)
    assert answer.intent is not None and answer.intent.id == intent


def test_shipped_content_falls_back_off_topic(shipped: Engine) -> None:
    assert shipped.answer("how do I renew my passport?", previous_intent="offer_edi_programme").is_fallback


@pytest.mark.parametrize(
    ("text", "number"),
    [("recommendation 4", 4), ("rec four", 4), ("Recommendation number 4?", 4), ("rec4", 4),
     ("the seven recommendations, one line each", None)],
)  # fmt: skip
def test_a_recommendation_is_found_by_its_number(shipped: Engine, text: str, number: int | None) -> None:
    found = shipped.recommendation_named(text)
    assert found is (shipped.recommendation(number) if number else None)
    if number:
        assert found is not None and found.recommendation_number == number


def test_shipped_recommendations_are_numbered(shipped: Engine) -> None:
    assert shipped.recommendation_count == 7
    assert shipped.recommendation_named("recommendation 4") is shipped.recommendation(4) is not None


def test_a_training_line_with_no_intent_or_one_column_says_so() -> None:
    from intents.training import parse_labelled

    _, problems = parse_labelled("what is it\t\njust a question\n", "training/x.tsv", {"key_points"})
    messages = [p.message for p in problems]
    assert messages == [
        "no intent id after the tab (an id, or 'none')",
        "expected 'question<TAB>intent', found 1 column",
    ]


def test_a_test_run_leaves_no_folder_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py makes a throwaway folder for the run's question log, and removes it at the end."""
    from tests import conftest

    folder = tmp_path / "confedbot-tests-run"
    (folder / "questions.sqlite3").parent.mkdir()
    (folder / "questions.sqlite3").write_bytes(b"")
    monkeypatch.setattr(conftest, "_RUN_FOLDER", str(folder))
    conftest.pytest_sessionfinish(None, 0)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
