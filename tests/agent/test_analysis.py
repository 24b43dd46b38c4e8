"""storyteller.agent.analysis: what the offline analyser finds in real-looking answers."""

from __future__ import annotations

import pytest

from storyteller.agent.analysis import (
    SENTIMENTS,
    Analysis,
    analyze_answer,
    detect_contradiction,
    extract_years,
    facts_from_analysis,
    is_done_signal,
    person_gender,
)

CHILDHOOD = (
    "I grew up in a little brick house on Elm Street in Dorchester, just outside Boston. "
    "My father worked at the shipyard and came home every evening smelling of oil and salt. "
    "I had two brothers, Tom and Eddie. Tom was the clever one; he read everything he could "
    "get his hands on. My grandmother came over from Galway as a girl and she still spoke "
    "Irish when she prayed. In 1952 we moved to Quincy and I cried because I didn't want to "
    "leave my friends."
)


# ------------------------------------------------------------------ people and kin


def test_kinship_with_a_name_becomes_one_person():
    a = analyze_answer("My brother Tom was tall and funny. He taught me to ride a bike.")
    assert a.people == ["brother Tom"]
    assert a.kinship == [("brother", "Tom")]
    assert a.describes_person == ["brother Tom"]


def test_unnamed_kin_are_kept_as_my_relation():
    a = analyze_answer("My mother kept chickens and my dad fixed bicycles in the shed.")
    assert a.people == ["my mother", "my father"]
    assert ("mother", None) in a.kinship and ("father", None) in a.kinship


def test_a_later_name_replaces_the_unnamed_relation():
    a = analyze_answer("My sister was born in 1941. My sister Rose was the baby of the family.")
    assert a.people == ["sister Rose"]
    assert a.kinship == [("sister", "Rose")]


def test_plural_kin_with_a_list_of_names():
    a = analyze_answer("I had two brothers, Tom and Eddie, and we shared one bed.")
    assert a.people == ["brother Tom", "brother Eddie"]
    assert a.kinship == [("brother", "Tom"), ("brother", "Eddie")]


def test_titles_and_kin_titles():
    a = analyze_answer(
        "Aunt Mary lived with us. Mrs Henderson, my teacher, was strict. "
        "Father O'Brien said Mass on Sundays."
    )
    assert "Aunt Mary" in a.people
    assert "Mrs Henderson" in a.people
    assert "Father O'Brien" in a.people
    assert ("aunt", "Mary") in a.kinship
    assert ("teacher", "Mrs Henderson") in a.kinship
    assert "Aunt Mary" not in a.places and "Mass" not in a.people


def test_name_then_relation_and_name_was_my_relation():
    a = analyze_answer("Georgia was my best friend. Tom, my brother, hated school.")
    assert ("friend", "Georgia") in a.kinship
    assert ("brother", "Tom") in a.kinship
    assert "Georgia" not in a.places


def test_bare_mum_and_dad_are_the_storytellers_parents():
    a = analyze_answer("We listened to the wireless every night. Mum sang along and Dad laughed.")
    assert a.people == ["my mother", "my father"]


def test_plain_proper_names_mid_sentence_are_people():
    a = analyze_answer("On Saturdays I played with Jimmy Doyle and a girl called Bernadette.")
    assert "Jimmy Doyle" in a.people
    assert "Bernadette" in a.people
    assert not any("Saturday" in p for p in a.people)


def test_descriptions_follow_pronouns_and_conjoined_people():
    a = analyze_answer(
        "My mother and my father were both very strict. Later my uncle came. He was a jolly man."
    )
    assert set(a.describes_person) == {"my mother", "my father", "my uncle"}


@pytest.mark.parametrize(
    ("label", "gender"),
    [
        ("brother Tom", "male"),
        ("my mother", "female"),
        ("Aunt Mary", "female"),
        ("Mrs Henderson", "female"),
        ("my parents", "plural"),
        ("Jimmy Doyle", "male"),
        ("Pat", None),
    ],
)
def test_person_gender(label, gender):
    assert person_gender(label) == gender


# ------------------------------------------------------------------ places


def test_places_from_gazetteer_and_prepositions():
    a = analyze_answer(CHILDHOOD)
    for place in ("Elm Street", "Dorchester", "Boston", "Galway", "Quincy"):
        assert place in a.places
    assert "Irish" not in a.places and "Irish" not in a.people


def test_sentence_initial_words_and_names_are_not_places():
    a = analyze_answer("Then we went to Tom's house. Later I wrote to Harold. Sunday was quiet.")
    assert a.places == []
    assert "Then" not in a.people and "Later" not in a.people and "Sunday" not in a.people


def test_multiword_and_saint_places_and_months_are_not_places():
    a = analyze_answer(
        "In May we sailed from Southampton to New York. I nursed at St Mary's Hospital in Leeds "
        "and we married at Saint Anne's in June 1950."
    )
    assert a.places == ["Southampton", "New York", "St Mary's Hospital", "Leeds", "Saint Anne's"]
    assert "May" not in a.places and "June" not in a.people


def test_a_city_that_is_also_a_name_depends_on_context():
    as_person = analyze_answer("Florence was my best friend at school.")
    as_place = analyze_answer("We went to Florence on our honeymoon.")
    assert "friend Florence" in as_person.people and as_person.places == []
    assert as_place.places == ["Florence"] and as_place.people == []


# ------------------------------------------------------------------ years and dates


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("We moved in 1952 and again in 1961.", [1952, 1961]),
        ("In the fifties everything changed.", [1950]),
        ("Back in the 1940s we had rationing.", [1940]),
        ("The winter of '47 was bitter.", [1947]),
        ("It was nineteen fifty-two when she was born.", [1952]),
        ("In her fifties she took up painting.", []),
        ("He walked 1500 miles and paid 1950 dollars.", []),
        ("The year 1850 and the year 2045 are out of range.", []),
    ],
)
def test_years(text, years):
    assert extract_years(text) == years
    assert analyze_answer(text).years == years


def test_dates_mentioned():
    assert analyze_answer("When I was seven we got a dog.").dates_mentioned
    assert analyze_answer("It happened one Christmas.").dates_mentioned
    assert analyze_answer("It was 1963.").dates_mentioned
    assert not analyze_answer("We had a dog and a cat.").dates_mentioned


# ------------------------------------------------------------------ sentiment


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("My mother died when I was six and I never really got over it.", "difficult"),
        ("My husband Jim passed away in 2004. The house has been so empty.", "difficult"),
        ("During the war we were bombed out and I was terrified every night.", "difficult"),
        (
            "I still cry when I hear that song; I miss her so much, but it was a happy time.",
            "emotional",
        ),
        (
            "Those summers at the lake were wonderful. We laughed all day and I loved it.",
            "positive",
        ),
        ("We lived on Elm Street. The school was two blocks away.", "neutral"),
        ("", "neutral"),
    ],
)
def test_sentiment(text, sentiment):
    a = analyze_answer(text)
    assert a.sentiment == sentiment
    assert a.sentiment in SENTIMENTS
    assert set(a.sentiment_scores) == {"neg", "neu", "pos", "compound"}


def test_a_death_inside_a_long_happy_answer_is_still_difficult():
    text = (
        "We had the loveliest summers, full of picnics and laughter and music. " * 6
    ) + "Then my father died in the accident, and nothing was the same."
    assert analyze_answer(text).sentiment == "difficult"


# ------------------------------------------------------------------ themes


def test_themes_merge_lexicon_and_keyphrases():
    a = analyze_answer(CHILDHOOD)
    assert 1 <= len(a.key_themes) <= 6
    assert a.key_themes[0] == "family"
    assert all(t == t.lower() for t in a.key_themes)
    assert len(set(a.key_themes)) == len(a.key_themes)
    for theme in a.key_themes:  # no names, places or filler words as themes
        assert theme not in {"tom", "eddie", "boston", "galway", "time", "things", "grew"}


def test_themes_from_lexicon():
    work = analyze_answer(
        "I worked at the mill for thirty years, twelve-hour shifts, "
        "and the boss docked our wages if we were late."
    )
    assert "work" in work.key_themes
    war = analyze_answer("I enlisted in the army in 1943 and my regiment went to Italy.")
    assert "war" in war.key_themes
    migration = analyze_answer("We emigrated with one suitcase and a passport each.")
    assert "migration" in migration.key_themes


# ------------------------------------------------------------------ scenes


def test_a_concrete_moment_is_a_scene():
    a = analyze_answer("One summer morning in 1952 my father took me to the harbour in Naples.")
    assert a.is_scene
    assert a.years == [1952] and a.places == ["Naples"] and a.people == ["my father"]


def test_generalisations_and_opinions_are_not_scenes():
    assert not analyze_answer(
        "My childhood was happy. We didn't have much but we had each other."
    ).is_scene
    assert not analyze_answer(
        "Every summer my father used to take us to the beach and we always swam."
    ).is_scene
    assert not analyze_answer("Naples.").is_scene


def test_a_scene_needs_sensory_or_action_detail():
    assert analyze_answer(
        "The winter of '47 was so cold that the milk froze on the doorstep."
    ).is_scene
    assert not analyze_answer(
        "In 1952 my father and I were in Naples for some reason, I believe."
    ).is_scene


# ------------------------------------------------------------------ robustness


def test_empty_and_whitespace():
    for text in ("", "   ", None):
        a = analyze_answer(text)
        assert a == Analysis(sentiment_scores=a.sentiment_scores)
        assert a.word_count == 0 and a.key_themes == []


def test_html_is_treated_as_text():
    a = analyze_answer(
        "<p>My <b>brother Tom</b> lived in <i>Boston</i>.</p><script>alert('x')</script> &amp; more"
    )
    assert a.people == ["brother Tom"]
    assert a.places == ["Boston"]
    assert not any("<" in t or "alert" in t for t in a.key_themes)


def test_non_english_text_does_not_crash():
    a = analyze_answer("Ça va très bien, merci. Wir wohnten in München. 我很好。 😀🎉")
    assert a.sentiment in SENTIMENTS
    assert a.word_count > 0


def test_very_long_answer_is_handled():
    text = (CHILDHOOD + " ") * 160  # ~100 KB
    a = analyze_answer(text)
    assert a.word_count > 10_000
    assert "Boston" in a.places and "brother Tom" in a.people
    assert len(a.key_themes) <= 6


def test_results_are_independent_copies():
    first = analyze_answer("My brother Tom lived in Boston.")
    first.people.append("intruder")
    assert analyze_answer("My brother Tom lived in Boston.").people == ["brother Tom"]


def test_round_trip_through_dict():
    a = analyze_answer(CHILDHOOD)
    assert Analysis.from_dict(a.to_dict()) == a
    assert Analysis.from_dict(None) == Analysis()
    partial = Analysis.from_dict(
        {"sentiment": "bogus", "people": ["Tom"], "kinship": [["brother", "Tom"]]}
    )
    assert partial.sentiment == "neutral" and partial.kinship == [("brother", "Tom")]


# ------------------------------------------------------------------ done signal


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("That's all I can think of, really.", True),
        ("I think we've covered the main things.", True),
        ("No, nothing else.", True),
        ("I'm done for today, thank you.", True),
        ("I'm not done yet, there's more about Tom.", False),
        ("The field was covered in snow.", False),
        ("", False),
    ],
)
def test_done_signal(text, done):
    assert is_done_signal(text) is done


# ------------------------------------------------------------------ memory facts


def _by_key(candidates):
    return {c.content["key"]: c for c in candidates}


def test_facts_have_subject_key_and_statement():
    text = (
        "I was born in 1931 in Galway. We emigrated to America in 1949. "
        "My brother Tom was tall and funny. Please call me Peggy."
    )
    facts = facts_from_analysis(text, analyze_answer(text))
    for candidate in facts:
        assert {"subject", "key", "statement"} <= set(candidate.content)
        assert 0 < candidate.confidence <= 1
        assert candidate.memory_type in {"fact", "person", "place", "preference", "event"}
    keys = _by_key(facts)
    assert keys["fact:storyteller:birth_year"].content["year"] == 1931
    assert keys["fact:storyteller:birthplace"].content["place"] == "Galway"
    assert keys["event:moved_to:america"].content["year"] == 1949
    tom = keys["person:brother:tom"]
    assert tom.memory_type == "person" and tom.content["name"] == "Tom"
    assert tom.content["described"] is True
    assert keys["preference:storyteller:preferred_name"].content["preferred_name"] == "Peggy"
    assert "person:name:peggy" not in keys  # the storyteller is not a person they mention


def test_repeated_facts_share_a_key_and_contradictions_are_found():
    first = _by_key(facts_from_analysis("I was born in 1931."))
    again = _by_key(facts_from_analysis("Well, I was born in 1931, you know."))
    other = _by_key(facts_from_analysis("I was born in 1932 in Cork."))
    key = "fact:storyteller:birth_year"
    assert not detect_contradiction(first[key].content, again[key].content)
    assert detect_contradiction(first[key].content, other[key].content)


def test_mother_has_one_identity_but_brothers_do_not():
    mary = _by_key(facts_from_analysis("My mother Mary baked bread."))["person:mother"]
    margaret = _by_key(facts_from_analysis("My mother Margaret baked bread."))["person:mother"]
    unnamed = _by_key(facts_from_analysis("My mother baked bread."))["person:mother"]
    assert detect_contradiction(mary.content, margaret.content)
    assert not detect_contradiction(mary.content, unnamed.content)
    brothers = _by_key(facts_from_analysis("My brothers Tom and Eddie fished."))
    assert "person:brother:tom" in brothers and "person:brother:eddie" in brothers


def test_relative_death_year_and_sibling_count():
    facts = _by_key(
        facts_from_analysis("My father died in 1960. I had three sisters and no brothers.")
    )
    assert facts["fact:father:death_year"].content["year"] == 1960
    assert facts["fact:storyteller:number_of_sisters"].content["count"] == 3
    assert facts["fact:storyteller:number_of_brothers"].content["count"] == 0


def test_no_facts_from_nothing():
    assert facts_from_analysis("") == []
    assert facts_from_analysis(None) == []
    assert not detect_contradiction({}, {})
    assert not detect_contradiction({"key": "a", "year": 1}, {"key": "b", "year": 2})


def test_shelling_peas_on_the_porch_is_not_a_war_memory():
    text = (
        "In the summer of 1948 my brother Tom and I sat on the back porch on Adams Street "
        "in Dorchester, shelling peas."
    )
    assert analyze_answer(text).sentiment != "difficult"
