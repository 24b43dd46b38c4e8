"""The question bank and the offline interviewer (storyteller.agent.offline)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from storyteller.agent.analysis import analyze_answer
from storyteller.agent.context import (
    CATEGORIES,
    LIFE_PERIODS,
    InterviewContext,
    LifeEventRef,
    MemoryItem,
    Question,
    Turn,
)
from storyteller.agent.offline import (
    DIFFICULT_ACKS,
    SKIP_ACKS,
    OfflineInterviewer,
    session_life_period,
    session_topic,
)
from storyteller.agent.question_bank import (
    QUESTIONS_FILE,
    load_question_bank,
    parse_questions,
    question_by_key,
    questions_for,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BANK = load_question_bank()
BANK_BY_TEXT = {q.text: q for q in BANK}
CLOSING = "We've covered a lot today. Is there anything else you'd like to add before we finish?"

# ------------------------------------------------------------------ helpers


def make_ctx(turns=(), **overrides) -> InterviewContext:
    fields = dict(
        storyteller_name="Margaret Walsh",
        session_name="Childhood in Boston exploration",
        intention="Capture 3-5 specific childhood scenes with rich sensory details",
        success_indicators=["At least 3 scenes captured with who/where/when details"],
        completion_indicators=["Storyteller says they've covered the main memories"],
        constraints=["Keep session to 30 minutes max", "Allow storyteller to skip any question"],
        procedure_notes="Start with scene-setting. End with a reflection question.",
        node_objective=None,
        life_events=[LifeEventRef("Childhood", "childhood", 1935, 1950, "Boston", None, True)],
        turns=list(turns),
        memories=[],
    )
    fields.update(overrides)
    return InterviewContext(**fields)


def answered(question: Question | str, answer: str | None, category: str | None = None) -> Turn:
    text = question.text if isinstance(question, Question) else question
    cat = question.category if isinstance(question, Question) else category
    return Turn(text, cat, answer, answer is None, analyze_answer(answer) if answer else None)


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def core_of(text: str) -> str:
    """The question without the acknowledgement in front of it."""
    for ack in (*DIFFICULT_ACKS, *SKIP_ACKS, "Thank you for sharing something so personal.",
                "Thank you. I can tell that memory means a lot to you."):
        if text.startswith(ack):
            return text[len(ack):].strip()
    return text


def bank_question_in(text: str):
    return next((q for q in BANK if q.text in text), None)


NEUTRAL_ANSWERS = [
    "It was a quiet sort of place and we got on with things.",
    "I suppose it was fairly ordinary, nothing special to tell really.",
    "We managed well enough, most of the time.",
    "It is hard to say now, it was a long while ago.",
]

SCRIPT = [
    "I grew up in a little brick house on Elm Street in Dorchester. My brother Tom and I "
    "shared the attic room and it was freezing in winter.",
    "Tom was tall and funny, always pulling pranks. He became a teacher in the end.",
    "My mother died when I was nine. The house went very quiet after that.",
    None,
    "One summer morning in 1952 my father took me to the harbour in Naples and we watched "
    "the fishing boats come in.",
    "We didn't have much, but we had each other. My grandmother lived with us and she was "
    "strict but kind.",
    "I learned that you get through things by sticking together. That shaped me.",
    "School was at Saint Margaret's. Sister Agnes ran it like an army camp.",
    "I don't really remember.",
    "In the fifties we moved to Quincy and I hated leaving my friends behind.",
    "During the war my uncle Joe was killed in France and my aunt never recovered.",
    "We went dancing at the Roseland every Saturday. That's where I met Jim.",
]


def run_session(interviewer, ctx_factory, answers, turns_count=40):
    turns: list[Turn] = []
    questions: list[Question] = []
    for index in range(turns_count):
        question = interviewer.next_question(ctx_factory(list(turns)))
        questions.append(question)
        turns.append(answered(question, answers[index % len(answers)]))
    return questions, turns


# ------------------------------------------------------------------ the bank


def test_bank_size_keys_and_texts_are_unique():
    assert len(BANK) >= 150
    assert len({q.key for q in BANK}) == len(BANK)
    assert len({q.text.lower() for q in BANK}) == len(BANK)
    assert len({norm(q.text) for q in BANK}) == len(BANK)


def test_bank_covers_every_category_and_life_period():
    per_category = Counter(q.category for q in BANK)
    assert set(per_category) == set(CATEGORIES)
    assert all(per_category[c] >= 20 for c in CATEGORIES), per_category
    per_period = Counter(q.life_period for q in BANK)
    assert set(per_period) == set(LIFE_PERIODS)
    for period in LIFE_PERIODS:
        assert per_period[period] >= 15, period
        assert questions_for(life_period=period, tag="opening"), period
        gentle_soft = [q for q in questions_for(life_period=period, tag="gentle")
                       if q.category != "tension"]
        assert gentle_soft or period == "school", period


def test_bank_has_the_special_questions():
    assert len(questions_for(tag="closing")) >= 3
    assert question_by_key("gn_close_anything").text == CLOSING
    photo = questions_for(tag="photo")
    assert any("Who is in this photo? Where was it taken?" in q.text for q in photo)
    assert len(questions_for(tag="gentle")) >= 40
    assert questions_for(tag="health") and questions_for(tag="death")


def test_bank_texts_are_plain_questions():
    for q in BANK:
        assert q.text == q.text.strip() and "  " not in q.text
        assert "<" not in q.text and ">" not in q.text
        assert "?" in q.text or q.text.endswith("."), q.key
        assert re.fullmatch(r"[a-z]{2}_[a-z0-9_]+", q.key), q.key


def test_bank_file_is_the_source():
    raw = json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    assert [entry["key"] for entry in raw] == [q.key for q in BANK]


@pytest.mark.parametrize(
    "entries",
    [
        [{"key": "a", "text": "A?", "category": "gossip", "life_period": "general"}],
        [{"key": "a", "text": "A?", "category": "scene", "life_period": "teenage"}],
        [{"key": "a", "text": "A?", "category": "scene", "life_period": "general"},
         {"key": "a", "text": "B?", "category": "scene", "life_period": "general"}],
        [{"key": "a", "text": "A?", "category": "scene", "life_period": "general"},
         {"key": "b", "text": "a?", "category": "scene", "life_period": "general"}],
        [{"text": "A?", "category": "scene", "life_period": "general"}],
    ],
)
def test_bad_bank_entries_are_rejected(entries):
    with pytest.raises(ValueError):
        parse_questions(entries)


# ------------------------------------------------------------------ planning helpers


@pytest.mark.parametrize(
    ("overrides", "period"),
    [
        ({}, "childhood"),
        ({"life_events": [LifeEventRef("Army years", "military", 1942, 1946, None, None, True)]},
         "war_and_service"),
        ({"life_events": [], "session_name": "Military service deep dive"}, "war_and_service"),
        ({"life_events": [], "session_name": None,
          "intention": "Hear how the family emigrated from Galway"}, "migration"),
        ({"life_events": [], "session_name": "First job at the mill"}, "work"),
        ({"life_events": [], "session_name": None, "intention": "Talk about anything"},
         "general"),
    ],
)
def test_session_life_period(overrides, period):
    assert session_life_period(make_ctx(**overrides)) == period


def test_session_topic_in_plain_words():
    assert session_topic(make_ctx()) == "your childhood in Boston"
    events = [LifeEventRef("Military Service", "military", None, None, None, None, True)]
    assert session_topic(make_ctx(life_events=events)) == "your military service"
    events = [LifeEventRef("Growing up in Galway", None, None, None, "Galway", None, True)]
    assert session_topic(make_ctx(life_events=events)) == "growing up in Galway"
    assert session_topic(make_ctx(life_events=[])) == "your childhood in Boston"
    assert session_topic(make_ctx(life_events=[], session_name=None)) == "your childhood"


# ------------------------------------------------------------------ opening


def test_opening_names_the_primary_life_event():
    q = OfflineInterviewer().next_question(make_ctx())
    assert q.source == "opening"
    assert q.text.startswith("Hello, Margaret. Today I'd love to hear about your childhood in "
                             "Boston.")
    assert "house you grew up in" in q.text
    assert q.category == "scene" and q.life_period == "childhood"
    assert q.key == "ch_open_house"


def test_opening_prefers_the_primary_event_over_others():
    events = [LifeEventRef("Wedding", "marriage", 1955, 1955, None, None, False),
              LifeEventRef("Military service", "military", 1943, 1946, None, None, True)]
    q = OfflineInterviewer().next_question(make_ctx(life_events=events, session_name=None))
    assert "your military service" in q.text
    assert bank_question_in(q.text).life_period == "war_and_service"


def test_opening_with_a_photo_when_the_session_wants_photos():
    ctx = make_ctx(wants_photos=True, photo_captions=["Wedding day, 1955", "Tom at the beach"])
    q = OfflineInterviewer().next_question(ctx)
    assert q.source == "photo"
    assert '"Wedding day, 1955"' in q.text
    assert "Who is in this photo? Where was it taken?" in q.text
    assert "your childhood in Boston" in q.text
    # photos are not used when the session does not want them
    ctx = make_ctx(wants_photos=False, photo_captions=["Wedding day, 1955"])
    assert OfflineInterviewer().next_question(ctx).source == "opening"


def test_opening_welcomes_back_and_uses_a_preferred_name():
    memories = [MemoryItem("pref-1", "preference", {"subject": "storyteller",
                                                    "preferred_name": "Peggy"}, 0.9)]
    q = OfflineInterviewer().next_question(make_ctx(memories=memories))
    assert q.text.startswith("Welcome back, Peggy.")
    assert q.used_memory_ids == ("pref-1",)


# ------------------------------------------------------------------ follow-ups


def test_follows_up_on_my_brother_tom():
    iv = OfflineInterviewer()
    opening = iv.next_question(make_ctx())
    ctx = make_ctx([answered(opening, "It was a small house. My brother Tom and I shared the "
                                      "back bedroom.")])
    q = iv.next_question(ctx)
    assert q.source == "follow_up"
    assert q.category == "people"
    assert q.follow_up_of == "brother Tom"
    assert "your brother Tom" in q.text
    assert re.search(r"\b(he|him)\b", q.text) or "Tom" in q.text


def test_follow_up_phrasings_vary_but_are_deterministic():
    iv = OfflineInterviewer()
    texts = set()
    for name in ("Tom", "Eddie", "Frank", "Harry", "Walter", "Arthur", "George", "Albert"):
        ctx = make_ctx([answered(question_by_key("ch_kitchen").text,
                                 f"My brother {name} was there.", "scene")])
        first = iv.next_question(ctx)
        assert first == iv.next_question(ctx)
        assert name in first.text
        texts.add(first.text.replace(name, "X"))
    assert len(texts) >= 3


def test_follows_up_on_a_place_and_a_year():
    iv = OfflineInterviewer()
    ctx = make_ctx([answered(BANK[0].text, "We sailed from Naples when the war ended.",
                             "scene")])
    q = iv.next_question(ctx)
    assert q.follow_up_of == "Naples" and q.category == "scene" and "Naples" in q.text
    ctx = make_ctx([answered(BANK[0].text, "It all changed in 1952, you know.", "scene")])
    q = iv.next_question(ctx)
    assert q.follow_up_of == "1952" and "1952" in q.text
    ctx = make_ctx([answered(BANK[0].text, "In the fifties it all changed.", "scene")])
    assert "the 1950s" in iv.next_question(ctx).text


def test_never_asks_about_the_same_person_twice():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "My brother Tom shared my room.")]
    about_tom = iv.next_question(make_ctx(turns))
    assert about_tom.follow_up_of == "brother Tom"
    turns.append(answered(about_tom, "Tom was tall and funny."))
    bank_q = iv.next_question(make_ctx(turns))
    turns.append(answered(bank_q, "Tom and I used to fish off the pier with my brother Tom's "
                                  "rod, and Tom always won."))
    later = iv.next_question(make_ctx(turns))
    assert "Tom" not in later.text


def test_no_more_than_one_follow_up_in_a_row():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "My brother Tom shared my room.")]
    first = iv.next_question(make_ctx(turns))
    assert first.source == "follow_up"
    turns.append(answered(first, "Tom married Sarah from Dublin, and my sister Anna moved to "
                                 "Chicago."))
    second = iv.next_question(make_ctx(turns))
    assert second.source == "bank"


# ------------------------------------------------------------------ difficult and skipped


def test_backs_off_gently_after_a_difficult_answer():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "We lived on a farm near Galway."),
             answered("What was hard back then?", "Times were hard.", "tension")]
    turns.append(answered("Who did you lose?", "My father was killed in the war when I was "
                                                "six. My mother never got over it.", "people"))
    q = iv.next_question(make_ctx(turns))
    assert q.text.startswith(DIFFICULT_ACKS)
    assert q.category != "tension"
    bank_q = bank_question_in(q.text)
    if bank_q is not None:
        assert "gentle" in bank_q.tags
    else:
        assert q.source == "follow_up"
        assert "something else" in q.text or "move on" in q.text
    # and the question after that is not a tension question either
    turns.append(answered(q, "He used to sing to us in the evenings."))
    assert iv.next_question(make_ctx(turns)).category != "tension"


def test_difficult_answer_without_people_gets_a_gentle_bank_question():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "It was a quiet house."),
             answered("What happened then?", "There were air raids every night and we were "
                                              "terrified and hungry.", "scene")]
    q = iv.next_question(make_ctx(turns))
    assert q.text.startswith(DIFFICULT_ACKS)
    assert "gentle" in bank_question_in(q.text).tags
    assert q.category != "tension"


def test_moves_on_after_a_skip():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "A small house.")]
    people_q = question_by_key("ch_siblings")
    turns.append(answered(people_q.text, None, "people"))
    q = iv.next_question(make_ctx(turns))
    assert q.text.startswith(SKIP_ACKS)
    assert q.category != "people"
    assert people_q.text not in q.text


def test_a_skipped_topic_is_not_brought_up_again():
    iv = OfflineInterviewer()
    skipped = question_by_key("ch_money_tight")
    turns = [answered(iv.next_question(make_ctx()), "A small house."),
             answered(skipped.text, None, "tension")]
    questions, _turns = run_session(iv, lambda t: make_ctx(turns + t), NEUTRAL_ANSWERS, 20)
    for q in questions:
        bank_q = bank_question_in(q.text)
        assert bank_q is None or "money" not in bank_q.tags


# ------------------------------------------------------------------ over a whole session


def test_never_repeats_a_question_in_a_40_turn_session():
    iv = OfflineInterviewer()
    memories = [MemoryItem("m1", "person", {"subject": "sister Anna", "relation": "sister",
                                            "name": "Anna", "key": "person:sister:anna"}, 0.8)]
    questions, _turns = run_session(iv, lambda t: make_ctx(t, memories=memories), SCRIPT)
    cores = [norm(core_of(q.text)) for q in questions]
    assert len(set(cores)) == len(cores), [c for c, n in Counter(cores).items() if n > 1]
    keys = [q.key for q in questions if q.key]
    assert len(set(keys)) == len(keys)
    # and no question is a bank question asked earlier under a different wording
    seen_bank = [bank_question_in(q.text).key for q in questions if bank_question_in(q.text)]
    assert len(set(seen_bank)) == len(seen_bank)
    for q in questions:
        assert "<" not in q.text and ">" not in q.text
        assert q.category in CATEGORIES


def test_never_repeats_even_with_terse_answers_for_long_sessions():
    iv = OfflineInterviewer()
    questions, _turns = run_session(iv, make_ctx, ["Yes.", "No.", None, "I don't know."], 80)
    cores = [norm(core_of(q.text)) for q in questions]
    assert len(set(cores)) == len(cores)


def test_moves_through_the_five_categories_in_order():
    iv = OfflineInterviewer()
    questions, _turns = run_session(iv, make_ctx, NEUTRAL_ANSWERS, 12)
    first_seen = list(dict.fromkeys(q.category for q in questions))
    assert first_seen == list(CATEGORIES)
    counts = Counter(q.category for q in questions[:10])
    assert all(counts[c] == 2 for c in CATEGORIES), counts


def test_session_stays_in_its_life_period_first():
    iv = OfflineInterviewer()
    questions, _turns = run_session(iv, make_ctx, NEUTRAL_ANSWERS, 20)
    periods = [q.life_period for q in questions]
    assert periods.count("childhood") >= 12
    assert "war_and_service" not in periods and "loss" not in periods


def test_is_deterministic():
    iv = OfflineInterviewer()
    a, _ = run_session(iv, make_ctx, SCRIPT, 25)
    b, _ = run_session(OfflineInterviewer(), make_ctx, SCRIPT, 25)
    assert a == b


def test_is_deterministic_across_processes():
    code = (
        f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_offline_interviewer import OfflineInterviewer, make_ctx, run_session, SCRIPT\n"
        "qs, _ = run_session(OfflineInterviewer(), make_ctx, SCRIPT, 20)\n"
        "print('\\n'.join(q.text for q in qs))\n"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=env, cwd=REPO_ROOT, check=True, timeout=120)
        outputs.add(result.stdout)
    assert len(outputs) == 1


# ------------------------------------------------------------------ memories


def test_uses_a_memory_and_reports_its_id():
    memories = [
        MemoryItem("m-fact", "fact", {"subject": "storyteller", "attribute": "birth_year",
                                      "year": 1931, "key": "fact:storyteller:birth_year"}, 0.9),
        MemoryItem("m-anna", "person", {"subject": "sister Anna", "relation": "sister",
                                        "name": "Anna", "key": "person:sister:anna"}, 0.8),
    ]
    iv = OfflineInterviewer()
    questions, _turns = run_session(iv, lambda t: make_ctx(t, memories=memories),
                                    NEUTRAL_ANSWERS, 6)
    used = [q for q in questions if q.used_memory_ids]
    assert len(used) == 1
    [memory_q] = used
    assert memory_q.used_memory_ids == ("m-anna",)
    assert memory_q.source == "memory"
    assert memory_q.text.startswith("Last time you told me about your sister Anna.")
    assert re.search(r"\bher\b", memory_q.text)


def test_memories_are_not_used_for_people_already_talked_about():
    memories = [MemoryItem("m-tom", "person", {"subject": "brother Tom", "relation": "brother",
                                               "name": "Tom"}, 0.8)]
    iv = OfflineInterviewer()
    script = ["My brother Tom shared my room."] + NEUTRAL_ANSWERS
    questions, _turns = run_session(iv, lambda t: make_ctx(t, memories=memories), script, 10)
    assert sum("Tom" in q.text for q in questions) == 1
    assert not any(q.used_memory_ids for q in questions)


def test_place_and_event_memories():
    memories = [
        MemoryItem("m-place", "place", {"subject": "Galway", "place": "Galway"}, 0.7),
        MemoryItem("m-event", "event", {"subject": "x", "year": 1949,
                                        "statement": "We emigrated to America in 1949."}, 0.6),
    ]
    iv = OfflineInterviewer()
    questions, _turns = run_session(iv, lambda t: make_ctx(t, memories=memories),
                                    NEUTRAL_ANSWERS, 12)
    used = {q.used_memory_ids[0]: q for q in questions if q.used_memory_ids}
    assert set(used) == {"m-place", "m-event"}
    assert "Galway" in used["m-place"].text
    assert '"We emigrated to America in 1949."' in used["m-event"].text


# ------------------------------------------------------------------ constraints


def test_respects_an_avoid_health_constraint():
    iv = OfflineInterviewer()
    ctx_factory = lambda t: make_ctx(  # noqa: E731
        t, constraints=["Please avoid health topics"],
        life_events=[LifeEventRef("Retirement", "later life", 1995, None, None, None, True)])
    answers = ["I was in the hospital at St Mary's Hospital for a month.",
               *NEUTRAL_ANSWERS]
    questions, _turns = run_session(iv, ctx_factory, answers, 40)
    for q in questions:
        bank_q = bank_question_in(q.text)
        assert bank_q is None or "health" not in bank_q.tags
        assert not re.search(r"\b(health|hospital|illness|doctor)\b", q.text, re.IGNORECASE)
    # without the constraint, the health question does come up
    plain, _turns = run_session(iv, lambda t: make_ctx(t, life_events=ctx_factory([])
                                                       .life_events), NEUTRAL_ANSWERS, 40)
    assert any("health" in q.text for q in plain)


def test_respects_avoiding_the_war():
    iv = OfflineInterviewer()
    questions, _turns = run_session(
        iv, lambda t: make_ctx(t, constraints=["Don't ask about the war"]),
        ["My uncle was in the army during the war.", *NEUTRAL_ANSWERS], 40)
    for q in questions:
        assert q.life_period != "war_and_service"
        assert not re.search(r"\bwar\b", q.text, re.IGNORECASE)


def test_trauma_constraint_makes_tension_questions_gentle():
    iv = OfflineInterviewer()
    questions, _turns = run_session(
        iv, lambda t: make_ctx(t, constraints=["Don't rush trauma topics"]), NEUTRAL_ANSWERS, 30)
    tension = [q for q in questions if q.category == "tension"]
    assert tension
    for q in tension:
        assert "gentle" in bank_question_in(q.text).tags


# ------------------------------------------------------------------ finishing


def test_offers_to_finish_when_complete():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "A small house on Elm Street.")]
    q = iv.next_question(make_ctx(turns), completion_reached=True)
    assert q.text == CLOSING
    assert q.source == "closing" and q.category == "meaning"
    assert iv.next_question(make_ctx(turns), completion_reached=False).source != "closing"


def test_completion_is_computed_from_the_indicators_when_not_given():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "A small house on Elm Street."),
             answered("Who lived there?", "My brother Tom. I think that's all, we've covered "
                                          "the main things.", "people")]
    assert iv.next_question(make_ctx(turns)).text == CLOSING
    not_done = [turns[0], answered("Who lived there?", "My brother Tom.", "people")]
    assert iv.next_question(make_ctx(not_done)).source != "closing"


def test_after_the_offer_to_finish():
    iv = OfflineInterviewer()
    turns = [answered(iv.next_question(make_ctx()), "A small house on Elm Street."),
             answered(CLOSING, "No, that's everything, thank you.", "meaning")]
    farewell = iv.next_question(make_ctx(turns), completion_reached=True)
    assert farewell.source == "closing"
    assert farewell.text.startswith("Thank you so much for sharing your memories")
    assert "Margaret" in farewell.text
    # if they had more to say, the interview follows it up instead of closing again
    more = [turns[0], answered(CLOSING, "Yes, one more thing: my aunt Mary lived with us and "
                                        "she taught me to bake.", "meaning")]
    q = iv.next_question(make_ctx(more), completion_reached=True)
    assert q.source == "follow_up" and "Aunt Mary" in q.text


def test_closing_offers_are_spaced_and_never_repeated():
    iv = OfflineInterviewer()
    questions, _turns = run_session(
        iv, lambda t: make_ctx(t, completion_indicators=[]),
        ["Well, let me tell you about the long summers by the lake with my cousins.",
         *NEUTRAL_ANSWERS], 30)
    closings = [i for i, q in enumerate(questions) if q.source == "closing"]
    assert closings and closings[0] >= 5  # no indicators: not before five answers
    assert all(b - a >= 4 for a, b in zip(closings, closings[1:], strict=False))
    texts = [questions[i].text for i in closings]
    assert len(set(texts)) == len(texts)


# ------------------------------------------------------------------ plain text


def test_output_is_plain_text_even_with_html_in_the_context():
    iv = OfflineInterviewer()
    ctx = make_ctx(
        storyteller_name="<b>Margaret</b>",
        life_events=[LifeEventRef("<script>x</script>Childhood", "childhood", None, None,
                                  "<i>Boston</i>", None, True)],
        wants_photos=True, photo_captions=['<img src=x onerror="alert(1)">At the beach'],
    )
    q = iv.next_question(ctx)
    assert "<" not in q.text and ">" not in q.text
    assert "At the beach" in q.text and "Boston" in q.text
    turns = [answered(q, "<p>My sister <b>Anna</b> took it in <i>Brighton</i>.</p>")]
    follow = iv.next_question(make_ctx(turns))
    assert "<" not in follow.text and "Anna" in follow.text


def test_sparse_context_from_nullable_columns():
    iv = OfflineInterviewer()
    ctx = make_ctx(storyteller_name="", session_name=None, intention="", life_events=None,
                   constraints=None, memories=None, completion_indicators=None,
                   success_indicators=None, photo_captions=None, artifacts=None)
    q = iv.next_question(ctx)
    assert q.text.startswith("Hello. Today I'd love to hear about your life story.")
    ctx.turns = [answered(q, "My brother Tom was there.")]
    assert "Tom" in iv.next_question(ctx).text
