"""The matching engine on its own: no Slack anywhere."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from intents import Engine, load_catalogue
from intents.engine import FOREIGN_MARGIN, SMALL_TALK_CONFIDENCE, SMALL_TALK_MAX_WORDS, anchor_words, foreign_words
from intents.evaluate import evaluate, format_report, read_labelled
from intents.explain import explain
from intents.matcher import is_off_topic, pop_off_topic, recommendation_number
from intents.text import content_words, normalise, strip_markup
from tests.conftest import RESPONSES

EVAL_SET = Path(__file__).parent / "data" / "eval.tsv"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_catalogue(RESPONSES))


@pytest.mark.parametrize(
    "question",
    ["recommendation 4", "rec four", "the fourth recommendation", "Recommendation number 4?", "rec #4", "4th rec",
     "what is recommendation IV"],
)  # fmt: skip
def test_recommendation_four_in_any_form(engine: Engine, question: str) -> None:
    assert engine.match(question).intent_id == "rec_appraisal"


def test_every_recommendation_number_reaches_its_intent(engine: Engine) -> None:
    for intent in engine.catalogue.intents:
        if intent.recommendation_number:
            assert engine.match(f"recommendation {intent.recommendation_number}").intent_id == intent.id


def test_seven_recommendations_is_the_list_not_number_seven(engine: Engine) -> None:
    assert engine.match("what are the seven recommendations").intent_id == "recommendations"


@pytest.mark.parametrize(
    "variant",
    [
        "Is the NHS over-managed?",
        "is the nhs over managed",
        "IS THE NHS OVER-MANAGED!!!",
        "<@U123ABC> is the nhs over-managed? :thinking_face:",
        "<!here> is the <https://example.com|NHS> over managed",
        "is teh nhs over-manged",
        "  is the nhs\tover-managed  ",
    ],
)
def test_markup_case_punctuation_and_typos_do_not_change_the_answer(engine: Engine, variant: str) -> None:
    assert engine.match(variant).intent_id == "nhs_under_managed"


def test_strip_markup_keeps_link_labels_and_drops_mentions() -> None:
    text = strip_markup("<@U1> see <https://x.org|the report> <!channel> <#C1|general> :tada: &amp; more")
    assert "U1" not in text and "channel" not in text.replace("general", "")
    assert "the report" in text and "general" in text and "&" in text and "tada" not in text


def test_number_words_become_digits(engine: Engine) -> None:
    vocabulary = engine.catalogue.vocabulary
    assert normalise("the Fourth recommendation", vocabulary) == ["the", "4", "recommendation"]


@pytest.mark.parametrize(
    ("question", "number"),
    [("rec seven", 7), ("the fourth recommendation", 4), ("recommendation number 2", 2), ("rec4", 4),
     ("what does recommendation iv say", 4), ("Recommendation 6: NEDs", 6),
     ("seven recommendations", None), ("Run me through what Messenger recommended, one line each", None),
     ("the recommendations, one by one", None), ("two things about the recommendations", None)],
)  # fmt: skip
def test_a_number_counts_only_beside_the_word_recommendation(engine: Engine, question: str, number: int | None) -> None:
    assert recommendation_number(question, engine.catalogue.vocabulary.numbers) == number


@pytest.mark.parametrize(
    "question",
    ["Run me through what Messenger recommended, one line each",
     "what did messenger recommend? one sentence on each please",
     "summarise what the review recommended, two or three lines"],
)  # fmt: skip
def test_a_number_word_opening_a_clause_is_not_a_recommendation_number(engine: Engine, question: str) -> None:
    # The topic matcher once read "recommended, one" as "recommendation 1" and answered recommendation 1.
    assert engine.match(question).intent_id == "recommendations"


def test_a_number_word_opening_a_clause_is_kept_before_the_word_recommendation(engine: Engine) -> None:
    vocabulary = engine.catalogue.vocabulary
    assert normalise("recommended, one line each", vocabulary) == ["recommendation", "line", "each"]
    assert normalise("and, four recommendations", vocabulary) == ["and", "4", "recommendations"]
    assert normalise("rec four", vocabulary) == ["recommendation", "4"]


@pytest.mark.parametrize("filler", ["actually", "exactly", "basically", "honestly", "literally", "simply"])
def test_a_filler_word_carries_no_topic(engine: Engine, filler: str) -> None:
    # "actually" once sent "what was the messenger review actually about" to who led the review.
    question = f"what was the messenger review {filler} about"
    assert filler not in engine.matcher.words(question)
    assert engine.match(question).intent_id == "review_overview"


@pytest.mark.parametrize(
    ("question", "topic", "intent_id"),
    [("Has the talent management function been set up?", "rec_talent_management", "recs_5_to_7_status"),
     ("Have the seven recommendations been put in place?", "recommendations", "implementation_progress"),
     ("Have the NED recommendations been acted on?", "rec_non_executives", "recs_5_to_7_status")],
)  # fmt: skip
def test_has_it_been_done_asks_where_it_stands(engine: Engine, question: str, topic: str, intent_id: str) -> None:
    # No status word: the question's form ("Has ... been ...?") asks whether it happened.
    assert engine.matcher.match(question, engine.threshold).intent_id == topic
    assert not set(engine.matcher.normalise(question)) & engine.status_words
    assert engine.match(question).intent_id == intent_id


def test_have_they_got_asks_what_they_say(engine: Engine) -> None:
    assert not engine.asks_where_it_stands("have the recommendations got anything on EDI")
    assert engine.match("have the recommendations got anything on EDI").intent_id == "rec_edi"
    assert not engine.asks_where_it_stands("have there been leadership reviews like it before")


@pytest.mark.parametrize("question", ["wasn't griffiths the same thing in the 80s", "isn't this just griffiths again"])
def test_a_negative_contraction_carries_no_topic(engine: Engine, question: str) -> None:
    assert not {"wasnt", "isnt"} & set(engine.matcher.words(question))
    assert engine.match(question).intent_id == "previous_reviews"


def test_a_light_verb_carries_no_topic(engine: Engine) -> None:
    # "came" once weighed so much that "which recommendations came from the review" fell back.
    assert "came" not in engine.matcher.words("which recommendations came from the review")
    assert engine.match("which recommendations came from the review").intent_id == "recommendations"
    assert engine.match("did anything come of the talent management proposals").intent_id == "recs_5_to_7_status"


@pytest.mark.parametrize(
    "question", ["what did the review say on divesrity", "what did the review say about inclsuion"]
)
def test_a_misspelt_vocabulary_word_is_mended_before_the_vocabulary_reads_it(engine: Engine, question: str) -> None:
    # "diversity" and "inclusion" reach the matcher only as the concept 'edi': their typos were once
    # corrected against the folded words, found nothing, and left the question to "review".
    assert "edi" in engine.matcher.words(question)
    assert engine.match(question).intent_id == "rec_edi"


@pytest.mark.parametrize(
    "question",
    ["has the review said anything about appraisals", "have you a summary of recommendation 4",
     "has messenger recommended anything for NEDs"],
)  # fmt: skip
def test_has_it_said_asks_what_it_says_not_where_it_stands(engine: Engine, question: str) -> None:
    assert not engine.asks_where_it_stands(question)
    assert engine.match(question).intent_id not in {"implementation_progress", "recs_5_to_7_status"}


def test_a_greeting_before_has_it_happened_still_asks_where_it_stands(engine: Engine) -> None:
    assert engine.asks_where_it_stands("Hi, has the talent function been set up?")


def test_a_real_word_one_letter_from_a_vocabulary_word_is_not_mended(engine: Engine) -> None:
    # "drivers" is one letter from "diverse" (an EDI word): only swapped or missing letters are mended.
    assert "edi" not in engine.matcher.words("what are the main drivers behind the recommendations")
    assert "edi" in engine.matcher.words("what did the review say on divesrity")


@pytest.mark.parametrize(
    "question", ["what does rec. four say", "what does recommendation no. four say", "Rec four: what is it?"]
)
def test_a_number_word_after_a_full_stop_still_follows_its_recommendation_word(engine: Engine, question: str) -> None:
    assert engine.match(question).intent_id == "rec_appraisal"


def test_confidence_and_alternatives_are_bounded(engine: Engine) -> None:
    for question in ["key points", "what is the EDI programme", "xyzzy", "", "recommendation 2"]:
        match = engine.match(question)
        assert 0.0 <= match.confidence <= 1.0
        assert len(match.alternatives) <= 3
        assert match.intent_id not in {a.intent_id for a in match.alternatives}


def test_below_threshold_is_fallback(engine: Engine) -> None:
    answer = engine.answer("what's the weather in Leeds tomorrow")
    assert answer.is_fallback and answer.mode == "fallback"
    assert answer.confidence < engine.threshold


def test_followups_use_the_previous_topic(engine: Engine) -> None:
    signup = engine.answer("how do I sign up?", previous_intent="offer_edi_programme")
    assert signup.intent is not None and signup.intent.id == "offer_edi_programme" and signup.mode == "signup"
    more = engine.answer("tell me more", previous_intent="rec_appraisal")
    assert more.intent is not None and more.intent.id == "rec_appraisal" and more.mode == "more"
    read = engine.answer("where can I read it?", previous_intent="review_overview")
    assert read.intent is not None and read.intent.id == "review_overview" and read.mode == "read"
    # Sign-up on a topic that is not an offer: the renderer lists the offers that can be joined.
    assert engine.answer("how do I sign up", previous_intent="rec_edi").mode == "signup"


def test_followup_phrases_without_a_topic_are_ordinary_questions(engine: Engine) -> None:
    assert engine.answer("how do I sign up?").intent.id == "offers_overview"  # type: ignore[union-attr]


def test_a_full_question_in_a_thread_beats_the_old_topic(engine: Engine) -> None:
    answer = engine.answer("what does the review say about appraisals", previous_intent="offer_edi_programme")
    assert answer.intent is not None and answer.intent.id == "rec_appraisal" and not answer.followup


def test_signup_offer_lookup(engine: Engine) -> None:
    assert engine.signup_offer("edi").id == "offer_edi_programme"  # type: ignore[union-attr]
    assert engine.signup_offer("ned network").id == "offer_ned_network"  # type: ignore[union-attr]
    assert engine.signup_offer("") is None
    assert engine.signup_offer("pizza") is None


def test_long_and_strange_input_is_bounded_and_valid(engine: Engine) -> None:
    for question in ["recommendation 4 " * 5000, "😀" * 1000, "<@U1>" * 2000, "\x00\x01\x02 key points", "Привет мир"]:
        match = engine.match(question)
        assert 0.0 <= match.confidence <= 1.0


def test_accuracy_on_the_held_out_labelled_set(engine: Engine) -> None:
    """The held-out set in tests/data is never used as examples. Bars from issue 2: 90% and 85%."""
    questions = read_labelled(EVAL_SET, {i.id for i in engine.catalogue.intents})
    examples = {" ".join(normalise(e)) for i in engine.catalogue.intents for e in i.examples}
    copied = [q.question for q in questions if " ".join(normalise(q.question)) in examples]
    assert copied == [], "the evaluation set must not repeat training examples"
    report = evaluate(engine, questions)
    assert report.in_scope >= 140 and report.out_of_scope >= 40
    assert report.accuracy >= 0.90
    assert report.out_of_scope_recall >= 0.85


def test_a_question_naming_its_own_topic_is_not_a_followup(engine: Engine) -> None:
    answer = engine.answer("how do I join the EDI network?", previous_intent="greeting")
    assert answer.intent is not None and answer.intent.id == "offer_edi_programme" and not answer.followup
    answer = engine.answer("tell me more about recommendation 4", previous_intent="offer_edi_programme")
    assert answer.intent is not None and answer.intent.id == "rec_appraisal" and not answer.followup
    answer = engine.answer("how can I get involved?", previous_intent="offer_ned_network")
    assert answer.intent is not None and answer.intent.id == "offer_ned_network" and answer.mode == "signup"


def test_small_talk_never_becomes_a_topic(engine: Engine) -> None:
    greeting = engine.catalogue.get("greeting")
    assert greeting is not None and not greeting.is_topic
    assert all(i.is_topic for i in engine.catalogue.intents if i.id.startswith(("rec_", "offer_")))


def with_floor(engine: Engine, floor: float) -> Engine:
    catalogue = engine.catalogue
    return Engine(replace(catalogue, settings=replace(catalogue.settings, suggestion_floor=floor)))


def test_an_off_topic_fallback_suggests_nothing(engine: Engine) -> None:
    question = "the shed roof is leaking again"
    answer = engine.answer(question)
    assert answer.is_fallback and answer.alternatives == ()
    # Without the floor the same question offered topics it has nothing to do with.
    assert with_floor(engine, 0.0).answer(question).alternatives


def test_an_in_scope_near_miss_still_suggests_the_right_topic(engine: Engine) -> None:
    # A stricter bot (threshold 0.5) turns a weak right answer into a near miss: its topic is offered.
    settings = replace(engine.catalogue.settings, confidence_threshold=0.5)
    strict = Engine(replace(engine.catalogue, settings=settings))
    answer = strict.answer("practice managers")
    assert answer.is_fallback
    assert answer.alternatives and answer.alternatives[0].id == "primary_social_care"
    assert all(c.score >= strict.suggestion_floor for c in strict.match("practice managers").alternatives)


def test_a_floor_at_the_threshold_suggests_nothing_below_it(engine: Engine) -> None:
    strict = with_floor(engine, engine.threshold)
    assert strict.answer("surgery leadership").alternatives == ()
    assert strict.answer("what are the seven recommendations").intent is not None


def test_suggestions_are_what_a_fallback_would_offer(engine: Engine) -> None:
    # Answered correctly, yet the question's own topic heads what a fallback would have offered.
    assert engine.suggestions("what is the EDI programme")[0] == "offer_edi_programme"
    assert engine.suggestions("What's the weather like in Leeds tomorrow?") == ()


def test_eval_reports_what_the_floor_lets_through(engine: Engine) -> None:
    questions = read_labelled(EVAL_SET, {i.id for i in engine.catalogue.intents})
    report = evaluate(engine, questions)
    loose = evaluate(with_floor(engine, 0.0), questions)
    assert report.suggestion_floor == engine.suggestion_floor
    assert report.out_of_scope_fallbacks == loose.out_of_scope_fallbacks > 0
    # The shipped floor: off-topic questions rarely see a topic, and no reachable right topic is lost.
    # (A fallback offers topics only, and only when the question holds one of our words, whatever the
    # floor: the floor is now a second line, so even without it few off-topic fallbacks offer one.)
    assert report.out_of_scope_suggestion_rate <= loose.out_of_scope_suggestion_rate <= 0.02
    # ...and at most two wrong answers' right topics are kept from a fallback by it (9 of 11 today).
    assert loose.in_scope_misses_hit - 2 <= report.in_scope_misses_hit <= loose.in_scope_misses_hit
    text = format_report(report)
    assert (
        f"suggestion floor {engine.suggestion_floor:g}" in text and "off-topic fallbacks showing suggestions:" in text
    )
    assert "suggestion hit rate" in text


@pytest.mark.parametrize(
    "question",
    ["how do I find the area of a circle", "i need to speak to customer service about my flight", "pay my gas bill"],
)
def test_a_weak_topic_with_no_word_of_ours_is_held_back(engine: Engine, question: str) -> None:
    """The anchor gate: a topic scoring under ANCHOR_CONFIDENCE through one everyday word ("find",
    "speak", "bill") gives the plain fallback, with no "did you mean"."""
    answer = engine.answer(question)
    assert answer.intent is None and answer.alternatives == ()


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [
        ("who pays for it", "funding_implementation"),  # points back at the conversation
        ("is any of it funded", "funding_implementation"),
        ("which recommendations have actually been delivered", "implementation_progress"),  # anchor words
    ],
)
def test_a_question_pointing_back_or_holding_our_words_is_not_held_back(
    engine: Engine, question: str, intent_id: str
) -> None:
    answer = engine.answer(question)
    assert answer.intent is not None and answer.intent.id == intent_id


def test_held_back_is_only_for_weak_topics(engine: Engine) -> None:
    assert not engine.held_back("how do I find the area of a circle", "review_findings", 0.9)
    assert not engine.held_back("thanks a lot", "thanks", 0.25)  # small talk needs no anchor
    assert engine.held_back("how do I find the area of a circle", "review_findings", 0.29)


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [
        ("what does recommendation 7 say", "rec_challenged_roles"),
        ("explain recommendation 7", "rec_challenged_roles"),
        ("who does recommendation 7 affect", "rec_challenged_roles"),
        ("what happened to recommendation 5", "recs_5_to_7_status"),
        ("any update on recommendation 6 since 2022", "recs_5_to_7_status"),
    ],
)
def test_a_number_goes_to_its_recommendation_unless_the_rest_asks_where_it_stands(
    engine: Engine, question: str, intent_id: str
) -> None:
    answer = engine.answer(question)
    assert answer.intent is not None and answer.intent.id == intent_id
    assert intent_id not in {i.id for i in answer.alternatives}


def test_an_offers_only_lookup_never_takes_a_rival(engine: Engine) -> None:
    assert (
        engine.signup_offer("progress on recommendation 7") is None
        or engine.signup_offer("progress on recommendation 7").is_offer
    )  # type: ignore[union-attr]


def test_the_weekly_report_never_suggests_teaching_a_held_back_question(engine: Engine) -> None:
    """`bot report` and its Learn suggestion decide as the engine does: a question held back for want
    of a word of ours is not offered to a topic."""
    from bot.report import group_unanswered

    [circle] = group_unanswered(engine, ["how do I find the area of a circle"])
    assert circle.suggested is None
    [findings] = group_unanswered(engine, ["what did messenger find about board leadership"])
    assert findings.suggested == "review_findings"
    # Nor one passed over for its foreign word: the Hewitt review's recommendations are not Messenger's.
    [hewitt] = group_unanswered(engine, ["Hewitt review recommendations"])
    assert hewitt.suggested is None
    # Nor a request to make something, which no example can ever teach the bot to answer.
    [speech] = group_unanswered(engine, ["write me a speech about the talent management function"])
    assert speech.suggested is None


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [
        # A recommendation of its own says where it stands (issue 20): the general timeline never did.
        ("was the national induction ever introduced", "rec_collaborative_leadership"),
        ("Is there a standard appraisal for all staff yet?", "rec_appraisal"),
        ("has the specialist NED appointments team been set up yet", "recs_5_to_7_status"),
        ("is there a single set of standards for managers yet", "management_framework"),
        ("what does recommendation 1 propose", "rec_collaborative_leadership"),  # no status word: the topic
    ],
)
def test_asking_where_a_topic_stands_goes_to_the_intent_reporting_on_it(
    engine: Engine, question: str, intent_id: str
) -> None:
    answer = engine.answer(question)
    assert answer.intent is not None and answer.intent.id == intent_id
    if intent_id not in ("rec_collaborative_leadership", "rec_appraisal"):
        reporting = engine.catalogue.get(intent_id)
        assert reporting is not None and answer.alternatives[0].id in reporting.status_of  # the topic comes next


@pytest.mark.parametrize(
    ("question", "topic_matcher_said", "intent_id"),
    [
        ("how are you doing, ai", None, "greeting"),  # ['ai'] to the topic matcher
        ("what sort of stuff do you know", None, "help"),  # ['sort', 'stuff']
        ("all good with you?", "goodbye", "greeting"),  # ['good'], which goodbyes share
    ],
)
def test_small_talk_is_read_again_with_every_word(
    engine: Engine, question: str, topic_matcher_said: str | None, intent_id: str
) -> None:
    assert engine.matcher.match(question, engine.threshold).intent_id == topic_matcher_said
    assert engine.match(question).intent_id == intent_id


@pytest.mark.parametrize("question", ["hello in spanish", "can you speak to me in german", "how is the weather doing"])
def test_small_talk_words_in_an_off_topic_request_still_fall_back(engine: Engine, question: str) -> None:
    # Short enough for the small-talk reading (two words of meaning at most), yet off-topic.
    assert len(content_words(engine.matcher.normalise(question))) <= SMALL_TALK_MAX_WORDS
    assert engine.match(question).intent_id is None
    # ...with no "Did you mean: Hello?": a fallback offers topics only.
    assert engine.answer(question).alternatives == ()


def test_small_talk_closest_to_an_off_topic_area_falls_back(engine: Engine) -> None:
    """The topic matcher hears help in "what is the answer to life" ('answer', 'life'); read with every
    word, an off-topic area leads all small talk by the margin, so the member gets the fallback."""
    question = "what is the answer to life"
    assert engine.match_topics(question).intent_id == "help"
    assert engine.match(question).intent_id is None
    assert engine.match("what is your name").intent_id == "help"  # the bot says who it is


def test_small_talk_never_takes_a_thread_follow_up(engine: Engine) -> None:
    """Outside a thread "can you help how do I join" is small talk (help); in a thread about an offer it
    asks how to sign up for that offer, as before small talk was read again."""
    question = "can you help how do I join"
    assert engine.answer(question).intent.id == "help"  # type: ignore[union-attr]
    answer = engine.answer(question, previous_intent="offer_ned_network")
    assert answer.followup and answer.mode == "signup" and answer.intent.id == "offer_ned_network"  # type: ignore[union-attr]


def test_the_small_talk_matcher_is_small_and_the_engine_survives_the_cache(engine: Engine) -> None:
    assert engine.small_talk is not None and engine.small_talk.char_space is None
    assert engine.small_talk.spelling is engine.matcher.spelling
    assert max(len(content_words(engine.matcher.normalise(t))) for t in engine.small_talk.texts) <= 3
    # The content cache pickles the engine: the copy answers alike and still shares one corrector.
    copy = pickle.loads(pickle.dumps(engine))
    assert copy.small_talk.spelling is copy.matcher.spelling
    for question in ["how are you doing, ai", "what is the messenger review", "recomendation 4", "will it rain"]:
        assert copy.match(question) == engine.match(question)


def test_off_topic_labels() -> None:
    scores = {"__out_of_scope__.everyday": 0.4, "__out_of_scope__.events": 0.5, "contact": 0.45}
    assert is_off_topic("__out_of_scope__.events") and not is_off_topic("contact")
    assert pop_off_topic(scores) == 0.5 and scores == {"contact": 0.45}
    assert pop_off_topic({"contact": 0.3}) == 0.0


@pytest.mark.parametrize(
    ("typo", "word"),
    [("leadrship", "leadership"), ("managemnt", "management"), ("reviwe", "review"), ("messanger", "messenger")],
)
def test_single_edit_typos_are_corrected(engine: Engine, typo: str, word: str) -> None:
    assert engine.matcher.spelling.correct(typo) == word


def test_spelling_keeps_names_short_words_and_long_tokens(engine: Engine) -> None:
    spelling = engine.matcher.spelling
    assert "javid" in spelling.counts and spelling.correct("david") == "david"  # never a new first letter
    assert spelling.correct("rain") == "rain"  # too short to correct safely
    long_token = "x" * 1990  # a 2,000-character message of one "word": left alone, at no cost
    assert spelling.correct(long_token) == long_token
    assert engine.match(long_token).intent_id is None


def test_each_off_topic_area_is_a_class_of_its_own(engine: Engine) -> None:
    areas = engine.catalogue.settings.out_of_scope
    labels = set(engine.matcher.labels)
    assert {f"__out_of_scope__.{area}" for area in areas} <= labels
    # Near-domain NHS policy and an everyday request each fall back, through their own area.
    for question, area in [
        ("what did the fuller stocktake say about primary care", "nhs_elsewhere"),
        ("transfer money to my savings account", "everyday"),
    ]:
        scores = engine.matcher.scores(question)
        best = max(scores, key=lambda label: scores[label])
        assert best == f"__out_of_scope__.{area}" and engine.match(question).intent_id is None


def test_a_pcn_is_primary_care(engine: Engine) -> None:
    # vocabulary.concepts: a primary care network's leaders ask about primary care; "how do PCNs work"
    # is still other NHS policy.
    assert "primary" in engine.matcher.words("what did the review offer PCN leaders")
    assert engine.match("what did the review offer PCN leaders").intent_id == "primary_social_care"
    assert engine.match("how do PCNs work").intent_id is None


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [
        ("what are ALS", "offer_action_learning_sets"),
        ("msgr review summary", "review_overview"),
        ("EDI prog dates", "offer_edi_programme"),
    ],  # fmt: skip
)
def test_slack_shorthand_is_read_through_the_vocabulary(engine: Engine, question: str, intent_id: str) -> None:
    assert engine.match(question).intent_id == intent_id


def test_cqc_inspections_are_not_ours_but_edi_in_inspections_is(engine: Engine) -> None:
    # The near-domain class: the CQC's own inspections fall back; the review's call to make EDI
    # part of the inspection regime is recommendation 2.
    assert engine.match("CQC inspections").intent_id is None
    assert engine.match("should EDI be part of CQC inspections").intent_id == "rec_edi"


def test_a_word_common_in_any_one_off_topic_area_is_no_anchor(engine: Engine) -> None:
    """'nhs' is rare among everyday requests but common among questions on other NHS policy: no anchor.
    Pooled into one list, the everyday questions would dilute it into one."""
    assert "nhs" not in engine.anchors
    assert {"messenger", "ned", "confederation"} <= engine.anchors
    settings = engine.catalogue.settings
    pooled = replace(settings, out_of_scope={"all": settings.off_topic_examples})
    assert "nhs" in anchor_words(replace(engine.catalogue, settings=pooled), engine.matcher)


def test_foreign_words_are_off_topic_words_no_intent_uses(engine: Engine) -> None:
    assert {"hewitt", "fuller", "darzi"} <= engine.foreign
    ours = {w for i in engine.catalogue.intents for e in i.examples for w in engine.matcher.words(e)}
    assert not engine.foreign & ours
    # One off-topic example is not enough to make a word foreign.
    settings = engine.catalogue.settings
    single = replace(settings, out_of_scope={"one": ("what did the hewitt review say",)})
    assert "hewitt" not in foreign_words(replace(engine.catalogue, settings=single), engine.matcher)


@pytest.mark.parametrize("question", ["Hewitt review recommendations", "what did patricia hewitt say about leadership"])
def test_a_foreign_word_sends_a_close_call_to_the_fallback(engine: Engine, question: str) -> None:
    # A topic that does not lead the closest off-topic area by FOREIGN_MARGIN is passed over.
    topics = engine.matcher.match(question, engine.threshold)
    assert topics.intent_id is not None and topics.confidence < topics.off_topic + FOREIGN_MARGIN
    answer = engine.answer(question)
    assert answer.intent is None and answer.alternatives == ()


def test_a_foreign_word_leaves_a_clear_topic_alone(engine: Engine) -> None:
    # "fuller" is foreign, but this question is plainly about Messenger's recommendations.
    question = "not the fuller stocktake: what were the seven recommendations of the messenger review"
    assert set(engine.matcher.words(question)) & engine.foreign
    assert engine.match(question).intent_id == "recommendations"


@pytest.mark.parametrize(
    ("question", "name"),
    [("Key findings of the Cass review?", "cass"), ("Can you summarise the Wachter review on NHS IT", "wachter"),
     ("what did the Berwick report recommend on patient safety", "berwick"),
     ("what did the Kirkup report say about leadership", "kirkup"),
     ("how do I apply for the Nye Bevan programme", "bevan"), ("the Francis report recommendations", "francis")],
)  # fmt: skip
def test_another_named_review_gets_the_fallback(engine: Engine, question: str, name: str) -> None:
    assert engine.matcher.match(question, engine.threshold).intent_id is not None  # a topic, on its words
    assert engine.other_review(question) == name
    answer = engine.answer(question)
    assert answer.intent is None and answer.alternatives == ()


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [("what was the general's report about", "review_overview"), ("the Griffiths report", "previous_reviews"),
     ("what was the Chris Ham report about", "chris_ham_report"),
     ("did the Messenger review say more than the Cass review about leadership", None),
     ("will our directors and their direct reports fall under the barring system", "managers_regulation"),
     ("what did the 2022 review recommend", "recommendations"),
     ("tell me about the ICS leadership programme", "offer_ics_leadership_programme"),
     ("what did the independent review find", "review_findings"), ("any online courses for managers", None),
     ("is there a mentoring programme for new managers", None),
     ("the francis report recommendations", "recommendations"),  # a lower case name seen once is no name
     ("the Forward Institute programme", "offer_ics_leadership_programme")],
)  # fmt: skip
def test_a_review_we_cover_is_not_another_review(engine: Engine, question: str, intent_id: str | None) -> None:
    assert engine.other_review(question) is None
    if intent_id is not None:
        assert engine.match(question).intent_id == intent_id


@pytest.mark.parametrize(
    "question",
    ["Can you draft a letter to our MP about regulating NHS managers?", "write me a poem about Gordon Messenger",
     "please translate the key points into Welsh", "could you make me 6 slides on the seven recommendations",
     "I need you to summarise this board paper on EDI", "Rewrite our NED role description"],
)  # fmt: skip
def test_a_request_to_make_something_gets_the_fallback(engine: Engine, question: str) -> None:
    assert engine.task_opening(question) is not None
    answer = engine.answer(question)
    assert answer.intent is None and answer.alternatives == ()
    # ...even in a thread, where it is no follow-up on the thread's topic.
    assert engine.answer(question, previous_intent="recommendations").intent is None


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [("I want to review our NED recruitment against messenger, what did it recommend?", "rec_non_executives"),
     ("so i need to write a board paper on messenger, what are the key points?", "key_points"),
     ("Edit: I meant what does recommendation 5 say?", "rec_talent_management")],
)  # fmt: skip
def test_the_members_own_plan_is_no_request_to_the_bot(engine: Engine, question: str, intent_id: str) -> None:
    assert engine.task_opening(question) is None
    assert engine.match(question).intent_id == intent_id
    assert engine.task_opening("I'd like you to draft a speech on messenger") == "draft"


def test_a_request_to_make_something_in_a_thread_is_no_follow_up(engine: Engine) -> None:
    # Without the task rule, "where I can read more" made this a follow-up on the thread's topic.
    answer = engine.answer("write up where I can read more", previous_intent="offer_ned_network")
    assert answer.intent is None and not answer.followup and answer.mode == "fallback"


@pytest.mark.parametrize(
    ("question", "intent_id"),
    [("summarise the recommendations for me", "recommendations"), ("what did the review write about EDI", "rec_edi"),
     ("can you tell me what the review found", "review_findings"), ("draft legislation on managers - where is it", None)],
)  # fmt: skip
def test_a_question_is_no_request_to_make_something(engine: Engine, question: str, intent_id: str | None) -> None:
    # (see also test_the_members_own_plan_is_no_request_to_the_bot)
    if intent_id is None:  # "draft" opens it: a task opening is a whole-question rule, stated in the file
        assert engine.task_opening(question) == "draft"
        return
    assert engine.task_opening(question) is None
    assert engine.match(question).intent_id == intent_id


def test_why_says_when_a_topic_was_passed_over_for_a_foreign_word(engine: Engine) -> None:
    why = explain(engine, engine.answer("what did patricia hewitt say about leadership"))
    assert why.intent_id is None and why.passed_over == "review_findings" and why.foreign == ("hewitt",)
    assert why.alternatives[0][0] == "review_findings" and why.held_back is None and why.other_review is None
    plain = explain(engine, engine.answer("what are the seven recommendations"))
    assert plain.passed_over is None and plain.foreign == () and plain.other_review is None
    task = explain(engine, engine.answer("Can you draft a speech on the Messenger review?"))
    assert task.intent_id is None and task.task == "draft"
    other = explain(engine, engine.answer("Key findings of the Cass review?"))
    assert other.passed_over == "review_findings" and other.other_review == "cass" and other.foreign == ()


def test_why_says_when_small_talk_read_the_question_again(engine: Engine) -> None:
    again = explain(engine, engine.answer("all good with you?"))
    assert again.intent_id == "greeting" and again.small_talk and again.topic_matcher_said == "goodbye"
    assert again.threshold == SMALL_TALK_CONFIDENCE
    plain = explain(engine, engine.answer("what is the messenger review"))
    assert not plain.small_talk and plain.topic_matcher_said is None and plain.threshold == engine.threshold
