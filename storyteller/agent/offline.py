"""The offline interviewer: chooses the next question without any language model.

It is deterministic (the same context always gives the same question; "random"
variety comes from a CRC of the context, never from ``random``) and it:

- opens with the session's subject in plain words ("Today I'd love to hear about
  your childhood in Boston. ...") or with a photo when the session wants photos;
- follows up on the last answer: a person ("You mentioned your brother Tom. What
  was he like?"), a place, a year, a theme belonging to another life period;
- never asks about the same person or place twice, and never repeats a question;
- backs off gently after a difficult answer (an acknowledgement, then a soft
  question, and no "tension" question right after);
- moves on to another kind of question after a skip;
- moves through the five categories of seed 003: scene, people, tension, change,
  meaning (two of each, then round again);
- brings back memories from earlier sessions ("Last time you told me about your
  sister Anna. ...") and reports their ids in ``Question.used_memory_ids``;
- honours constraints: "avoid health" rules out health questions, "don't rush
  trauma topics" makes it choose gentle questions for anything tense;
- offers to finish once the session is complete.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace

from storyteller.agent.analysis import (
    FIRST_NAMES,
    Analysis,
    is_done_signal,
    is_proper_word,
    person_gender,
)
from storyteller.agent.context import CATEGORIES, InterviewContext, MemoryItem, Question
from storyteller.agent.progress import analysis_of, can_complete, evaluate_indicators
from storyteller.agent.question_bank import BankQuestion, load_question_bank

QUOTA_PER_CATEGORY = 2  # questions of one category before moving to the next
MAX_FOLLOW_UPS_IN_A_ROW = 1
MAX_MEMORY_QUESTIONS = 3
MEMORY_GAP = 3  # turns between two questions built from memories
PHOTO_GAP = 3
CLOSING_GAP = 4  # turns before offering to finish again

# ---------------------------------------------------------------- wording

DIFFICULT_ACKS = (
    "Thank you for sharing that; it sounds like it was a hard time.",
    "Thank you for trusting me with that. It sounds like it was very hard.",
    "That must have been so difficult. Thank you for telling me.",
)
SKIP_ACKS = (
    "Of course, we can leave that one.",
    "That's quite all right; let's try something different.",
    "No problem at all, we can skip that.",
)
EMOTIONAL_ACKS = (
    "Thank you for sharing something so personal.",
    "Thank you. I can tell that memory means a lot to you.",
)
PERSON_TEMPLATES = (
    "You mentioned {ref}. What {was} {subj} like?",
    "Tell me more about {ref}. What do you remember most about {obj}?",
    "How would you describe {ref} to someone who never met {obj}?",
    "What is something {ref} used to say or do that you still remember?",
    "Is there a moment with {ref} that stands out for you? What happened?",
)
GENTLE_PERSON_TEMPLATES = (
    "If you'd like, tell me about a happy memory of {ref}. Or we can talk about something "
    "else.",
    "What is something about {ref} that still makes you smile? We can move on whenever you "
    "like.",
)
PLACE_TEMPLATES = (
    "You mentioned {place}. Picture yourself there: what do you see, hear and smell?",
    "Take me to {place}. What is the first thing you notice when you picture it?",
    "When you think of {place}, which moment there comes to mind first?",
    "What was {place} like back then? Describe it for someone who has never been.",
)
YEAR_TEMPLATES = (
    "You mentioned {when}. What was life like for you around then? Where were you living, "
    "and what filled your days?",
    "Let's stay with {when} for a moment. What was going on in your life, and in the world "
    "around you?",
    "What do you remember about {when}? What did an ordinary day look like?",
)
MEMORY_PERSON_QUESTIONS = (
    "What is one thing about {obj} you would like your family to know?",
    "How did {subj} fit into the part of your life we're talking about today?",
    "What is a moment with {obj} that you think of often?",
)
FAREWELLS = (
    "Thank you so much for sharing your memories with me today{name}. We can stop here "
    "whenever you're ready.",
    "Thank you again{name}. It has been a real pleasure listening to you today.",
)
LAST_RESORT = (
    "Is there a memory about {topic} that we haven't touched on yet?",
    "Is there someone from that time we haven't talked about yet?",
    "Is there a story you've always wanted to tell but never have?",
)
PERIOD_PHRASES = {
    "childhood": "your childhood",
    "school": "your school days",
    "work": "your working life",
    "love_and_family": "the people you love and the family you made",
    "war_and_service": "your time in service",
    "migration": "the journey that brought you to a new home",
    "loss": "someone you have lost",
    "later_life": "your life these days",
    "general": "your life story",
}

# ---------------------------------------------------------------- session planning

_PERIOD_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("war_and_service", ("war", "wartime", "army", "military", "navy", "naval", "air force",
                         "raf", "soldier", "enlist", "drafted", "national service", "veteran",
                         "deploy", "regiment", "marine", "wwii", "ww2", "in service",
                         "conscript", "the front")),
    ("migration", ("emigrat", "immigra", "migrat", "moved to", "moving to", "new country",
                   "journey to", "refugee", "relocat", "came to america", "crossing")),
    ("loss", ("loss", "grief", "bereave", "passed away", "death", "died", "widow", "mourning",
              "losing", "remembering", "in memory of", "memorial", "late husband", "late wife",
              "late mother", "late father", "late son", "late daughter", "late brother",
              "late sister")),
    ("school", ("school", "education", "college", "university", "teacher", "student",
                "classroom")),
    ("work", ("work", "career", "job", "employment", "profession", "business", "occupation",
              "trade", "apprentice")),
    ("love_and_family", ("marriage", "married", "wedding", "love", "courtship", "spouse",
                         "husband", "wife", "parenthood", "raising", "children", "family life",
                         "romance", "partner")),
    ("childhood", ("childhood", "growing up", "grew up", "early years", "early life", "born",
                   "kid", "child", "youth", "boyhood", "girlhood")),
    ("later_life", ("later life", "retirement", "retired", "grandchildren", "recent years",
                    "ageing", "aging", "old age", "these days", "golden years")),
)
_PERIOD_RES = tuple(
    (period, re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")", re.IGNORECASE))
    for period, keys in _PERIOD_KEYWORDS
)
_SENSITIVE_PERIODS = frozenset({"loss", "war_and_service"})
_THEME_TO_PERIOD = {
    "work": "work", "school": "school", "war": "war_and_service", "migration": "migration",
    "love": "love_and_family", "loss": "loss",
}
_THEME_TO_TAG = {"faith": "religion", "music": "music", "food": "food", "health": "health"}

_TOPIC_SYNONYMS: dict[str, tuple[str, ...]] = {
    "health": ("health", "illness", "illnesses", "ill", "sick", "sickness", "medical",
               "hospital", "hospitals", "disease", "diseases", "cancer", "doctor", "doctors"),
    "death": ("death", "deaths", "dying", "loss", "losses", "grief", "bereavement", "funeral",
              "funerals", "died", "passed"),
    "war": ("war", "wars", "military", "combat", "army", "battle", "battles", "wartime"),
    "religion": ("religion", "religious", "faith", "church", "god", "beliefs", "spiritual"),
    "money": ("money", "finances", "financial", "debt", "debts", "poverty", "income", "wealth"),
    "romance": ("romance", "romantic", "dating", "love life", "ex-husband", "ex-wife"),
    "family_conflict": ("divorce", "divorced", "estrangement", "estranged", "family conflict",
                        "arguments", "feud", "feuds"),
    "politics": ("politics", "political", "elections"),
}
_TOPIC_PERIODS = {"death": ("loss",), "war": ("war_and_service",)}
_AVOID_RE = re.compile(
    r"\b(?:avoid(?:ing)?|don'?t (?:ask|talk|bring up|discuss|mention|go into|raise)|"
    r"do not (?:ask|talk|bring up|discuss|mention|go into|raise)|no questions?|"
    r"stay away from|steer clear of|not to (?:ask|talk|discuss)|never (?:ask|mention|raise|"
    r"bring up)|off[- ]limits)\b(?:\s+(?:about|on|into|the topic of|topics? of|anything about|"
    r"questions? about|talking about|discussing|mentioning|asking about))*\s*:?\s*(.+)",
    re.IGNORECASE,
)
_GENTLE_RE = re.compile(
    r"trauma|gentle|sensitive|don'?t (?:push|rush)|do not (?:push|rush)|careful|slowly|"
    r"go easy|tender|grie(?:f|ving)|fragile|upset",
    re.IGNORECASE,
)
_AVOID_FILLER = frozenset(
    """about anything questions question topic topics subject subjects things thing any
    sensitive without consent details detail too much very talking asking discussing unless
    storyteller they them their his her she he it its that this those these with from unless
    asked first please really""".split()
)
_YOUR_RELATIVE_RE = re.compile(
    r"\byour (mother|father|mum|mom|dad|parents|brother|brothers|sister|sisters|grandmother|"
    r"grandfather|grandparents|husband|wife|partner|children|grandchildren|aunt|uncle)\b"
)
_MEMORY_MARKERS = ("last time you told me", "last time you mentioned")
_PHOTO_MARKERS = ("photo you shared", "photos you shared")


def photo_questions_asked(questions: Sequence[str]) -> int:
    """How many of these asked questions count as photo questions (the "photo:n" to ask next)."""
    return sum(1 for q in questions if any(m in _norm(q) for m in _PHOTO_MARKERS))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def _plain(text: str | None, limit: int = 120) -> str:
    """Storyteller-supplied words made safe for a plain-text question."""
    text = re.sub(r"<[^>]*>", " ", str(text or ""))
    text = text.replace("<", " ").replace(">", " ")
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


def _pick(seed: str, options: Sequence[str]) -> str:
    return options[zlib.crc32(seed.encode("utf-8")) % len(options)]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def session_life_period(ctx: InterviewContext) -> str:
    """The life period a session is about: from its primary life event, then its name,
    intention and process-node objective (earliest keyword wins within each)."""
    primary = _primary_event(ctx)
    sources = []
    if primary is not None:
        sources += [primary.event_type, primary.name, primary.description]
    sources += [ctx.session_name, ctx.intention, ctx.node_objective]
    sources += [e.name for e in ctx.life_events if e is not primary]
    for source in sources:
        period = _period_in(source)
        if period:
            return period
    return "general"


def _period_in(text: str | None) -> str | None:
    if not text:
        return None
    best: tuple[int, int, str] | None = None
    for order, (period, regex) in enumerate(_PERIOD_RES):
        m = regex.search(text.replace("_", " "))
        if m and (best is None or (m.start(), order) < best[:2]):
            best = (m.start(), order, period)
    return best[2] if best else None


def _primary_event(ctx: InterviewContext):
    for event in ctx.life_events:
        if event.is_primary:
            return event
    return ctx.life_events[0] if ctx.life_events else None


def session_topic(ctx: InterviewContext, period: str | None = None) -> str:
    """The session's subject in plain words, e.g. "your childhood in Boston"."""
    event = _primary_event(ctx)
    if event is not None and _plain(event.name):
        phrase = _topic_from_name(_plain(event.name, 80))
        location = _plain(event.location, 60)
        names_a_place = any(is_proper_word(w) for w in phrase.split()[2:])
        if location and location.lower() not in phrase.lower() and not names_a_place:
            phrase += f" in {location}"
        return phrase
    if ctx.session_name:
        name = re.sub(
            r"\b(?:session|exploration|capture|deep dive|interview|conversation|introduction|"
            r"intro|part \d+)\b",
            " ",
            _plain(ctx.session_name, 80),
            flags=re.IGNORECASE,
        )
        name = " ".join(name.split()).strip(" -:,")
        if name:
            return _topic_from_name(name)
    return PERIOD_PHRASES[period or session_life_period(ctx)]


def _topic_from_name(name: str) -> str:
    words = [w if is_proper_word(w) else w.lower() for w in name.split()]
    first = words[0].lower()
    if first in ("my", "our"):
        return " ".join(["your", *words[1:]])
    if first in ("the", "a", "an", "your", "life", "growing", "how", "what", "when", "where") or (
        first.endswith("ing") and not is_proper_word(words[0])
    ):
        return " ".join(words)
    return " ".join(["your", *words])


# ---------------------------------------------------------------- per-call state


class _State:
    """Everything derived from the context for one decision."""

    def __init__(self, ctx: InterviewContext, bank: Sequence[BankQuestion],
                 bank_norms: Sequence[str]) -> None:
        self.ctx = ctx
        self.bank = bank
        self.bank_norms = bank_norms
        self.turns = ctx.turns
        self.period = session_life_period(ctx)
        self.secondary = [p for p in (_period_in(e.name) or _period_in(e.event_type)
                                      for e in ctx.life_events) if p and p != self.period]
        self.asked = [_norm(t.question) for t in self.turns]
        self.asked_blob = " | ".join(self.asked)
        self.asked_relatives = set(_YOUR_RELATIVE_RE.findall(self.asked_blob))
        self.analyses: list[Analysis | None] = [analysis_of(t) for t in self.turns]
        self.bank_turn = [self._bank_key_in(text) for text in self.asked]
        self.avoid_topics, self.avoid_words = _parse_avoid(ctx)
        self.gentle_mode = any(_GENTLE_RE.search(c or "") for c in ctx.constraints)
        self.seed = f"{ctx.storyteller_name}|{ctx.session_name}|{len(self.turns)}"
        self._avoid_re = (
            re.compile(r"\b(?:" + "|".join(re.escape(w) for w in self.avoid_words) + r")\b",
                       re.IGNORECASE)
            if self.avoid_words else None
        )
        self._restrictions()

    def _bank_key_in(self, asked_text: str) -> str | None:
        for q, norm in zip(self.bank, self.bank_norms, strict=True):
            if norm in asked_text:
                return q.key
        return None

    def _restrictions(self) -> None:
        last = self.turns[-1] if self.turns else None
        recent = [a for a in self.analyses[-2:] if a is not None]
        self.no_tension = any(a.sentiment == "difficult" for a in recent)
        self.excluded_categories: set[str] = set()
        if last is not None and last.skipped and last.category:
            self.excluded_categories.add(last.category)
            key = self.bank_turn[-1]
            skipped = next((q for q in self.bank if q.key == key), None)
            if skipped is not None:  # a declined topic is not brought up again
                self.avoid_topics |= skipped.topics - {"food", "music", "home", "friendship"}
        self.skips_in_a_row = 0
        for turn in reversed(self.turns):
            if not turn.skipped:
                break
            self.skips_in_a_row += 1
        self.trailing_follow_ups = 0
        for index in range(len(self.turns) - 1, -1, -1):
            text = self.asked[index]
            if self.bank_turn[index] or any(m in text for m in _PHOTO_MARKERS):
                break
            self.trailing_follow_ups += 1

    # -- what has been asked
    def was_asked(self, text: str) -> bool:
        core = _norm(text)
        return bool(core) and core in self.asked_blob

    def mentioned(self, phrase: str) -> bool:
        phrase = _norm(phrase)
        return bool(phrase) and re.search(r"\b" + re.escape(phrase) + r"\b",
                                          self.asked_blob) is not None

    def turns_since(self, markers: Sequence[str]) -> int | None:
        for offset, text in enumerate(reversed(self.asked)):
            if any(m in text for m in markers):
                return offset
        return None

    def count_marked(self, markers: Sequence[str]) -> int:
        return sum(1 for text in self.asked if any(m in text for m in markers))

    # -- what may be asked
    def allowed(self, text: str, category: str, bank_q: BankQuestion | None = None) -> bool:
        if self.was_asked(text):
            return False
        if category in self.excluded_categories:
            return False
        if category == "tension" and (
            self.no_tension or (self.gentle_mode and (bank_q is None or "gentle" not in
                                                      bank_q.tags))
        ):
            return False
        if bank_q is not None:
            if any(r in self.asked_relatives for r in _YOUR_RELATIVE_RE.findall(_norm(text))):
                return False  # that person has been talked about already
            if bank_q.topics & self.avoid_topics:
                return False
            if any(bank_q.life_period in _TOPIC_PERIODS.get(t, ()) for t in self.avoid_topics):
                return False
        return not (self._avoid_re and self._avoid_re.search(text))

    def category_order(self) -> list[str]:
        counts = Counter(t.category for t in self.turns if t.category in CATEGORIES)
        level = min(counts[c] // QUOTA_PER_CATEGORY for c in CATEGORIES)
        target = next(c for c in CATEGORIES if counts[c] // QUOTA_PER_CATEGORY == level)
        start = CATEGORIES.index(target)
        return [CATEGORIES[(start + i) % len(CATEGORIES)] for i in range(len(CATEGORIES))]

    def period_order(self) -> list[list[str]]:
        """Groups of life periods, most fitting first."""
        first = [self.period] + (["general"] if self.period != "general" else [])
        secondary = [p for p in dict.fromkeys(self.secondary) if p not in first]
        rest = [p for p in dict.fromkeys(q.life_period for q in self.bank)
                if p not in first and p not in secondary and p not in _SENSITIVE_PERIODS]
        return [first, secondary, rest]


def _parse_avoid(ctx: InterviewContext) -> tuple[set[str], list[str]]:
    texts = [c for c in ctx.constraints if c]
    for memory in ctx.memories:
        if memory.memory_type == "preference":
            avoid = memory.content.get("avoid_topics") or memory.content.get("avoid")
            if isinstance(avoid, str):
                texts.append(f"avoid {avoid}")
            elif isinstance(avoid, list):
                texts.extend(f"avoid {a}" for a in avoid if isinstance(a, str))
    topics: set[str] = set()
    words: list[str] = []
    for text in texts:
        m = _AVOID_RE.search(text)
        if not m:
            continue
        subject = m.group(1).lower()
        matched = False
        for topic, synonyms in _TOPIC_SYNONYMS.items():
            if any(re.search(r"\b" + re.escape(s) + r"\b", subject) for s in synonyms):
                topics.add(topic)
                words.extend(s for s in synonyms if s not in words)
                matched = True
        if not matched:
            words.extend(
                w for w in re.findall(r"[a-z][a-z'-]+", subject)
                if len(w) > 3 and w not in _AVOID_FILLER and w not in words
            )
    return topics, words


# ---------------------------------------------------------------- people helpers


def _person_forms(label: str) -> tuple[str, str, str, str]:
    """(reference, subject pronoun, object pronoun, "was"/"were") for a people label."""
    if label.startswith("my "):
        ref = "your " + label[3:]
    elif label.split()[0].islower() and len(label.split()) > 1:
        ref = "your " + label  # "brother Tom" -> "your brother Tom"
    else:
        ref = label
    gender = person_gender(label)
    if gender == "female":
        return ref, "she", "her", "was"
    if gender == "male":
        return ref, "he", "him", "was"
    return ref, "they", "them", "were"


def _person_probe(label: str) -> str:
    """The words that show a question was already about this person."""
    if label.startswith("my "):
        return "your " + label[3:]
    words = label.split()
    if len(words) > 1 and (words[0].islower() or words[0] in ("Aunt", "Uncle", "Grandma",
                                                              "Grandpa", "Cousin", "Mr",
                                                              "Mrs", "Miss", "Ms", "Dr")):
        return " ".join(words[1:])
    return label


# ---------------------------------------------------------------- the interviewer


class OfflineInterviewer:
    """Chooses the next question from the question bank and the session so far."""

    def __init__(self, bank: Sequence[BankQuestion] | None = None) -> None:
        self.bank: tuple[BankQuestion, ...] = tuple(bank or load_question_bank())
        self._bank_norms = tuple(_norm(q.text) for q in self.bank)

    # ------------------------------------------------------------ public
    def next_question(
        self, ctx: InterviewContext, *, completion_reached: bool | None = None
    ) -> Question:
        """The next question.  ``completion_reached=None`` lets progress.py decide from
        ``ctx.completion_indicators``; True or False overrides it."""
        ctx = _normalised(ctx)
        state = _State(ctx, self.bank, self._bank_norms)
        if not ctx.turns:
            return self._opening(state)
        if completion_reached is None:
            results = evaluate_indicators(ctx.completion_indicators, ctx, ctx.artifacts)
            completion_reached = can_complete(results, ctx)
        last = ctx.turns[-1]
        last_analysis = state.analyses[-1]
        prefix = self._acknowledgement(state, last, last_analysis)
        done = bool(last.answer) and not last.skipped and is_done_signal(last.answer)
        if completion_reached or done:
            closing = self._closing(state, done)
            if closing is not None:
                return _with_prefix(closing, prefix)
        question = next(self._candidates(state, last, last_analysis), None)
        return _with_prefix(question or self._last_resort(state), prefix)

    # ------------------------------------------------------------ opening
    def _opening(self, st: _State) -> Question:
        name, memory_ids = _greeting_name(st.ctx)
        welcome = "Welcome back" if st.ctx.memories else "Hello"
        greeting = f"{welcome}, {name}." if name else f"{welcome}."
        topic = session_topic(st.ctx, st.period)
        if topic.startswith("remembering "):
            intro = f"{greeting} Today I'd love to spend some time {topic} with you."
        else:
            intro = f"{greeting} Today I'd love to hear about {topic}."
        captions = [c for c in st.ctx.photo_captions if c is not None]
        if st.ctx.wants_photos and captions:
            caption = _plain(captions[0], 80)
            ref = f'the photo you shared, "{caption}"' if caption else \
                "one of the photos you shared"
            return Question(
                text=f"{intro} Let's begin with {ref}. Who is in this photo? Where was it taken?",
                category="people", source="photo", life_period=st.period, key="photo:0",
                used_memory_ids=memory_ids,
            )
        opening = self._opening_question(st, topic)
        return Question(
            text=f"{intro} {opening.text}", category=opening.category, source="opening",
            life_period=opening.life_period, key=opening.key, used_memory_ids=memory_ids,
        )

    def _opening_question(self, st: _State, topic: str) -> BankQuestion:
        """The period's opening; one that assumes a named person only when the topic
        names someone ("remembering Jim")."""
        names_person = any(w in FIRST_NAMES for w in topic.split()) or \
            bool(_YOUR_RELATIVE_RE.search(topic))
        wanted = (names_person, False) if names_person else (False,)
        for needs_name in wanted:
            for period in (st.period, "general"):
                for q in self.bank:
                    if (q.life_period == period and "opening" in q.tags
                            and ("named_person" in q.tags) == needs_name
                            and st.allowed(q.text, q.category, q)):
                        return q
        return next(q for q in self.bank if "opening" in q.tags)

    # ------------------------------------------------------------ reacting to the last turn
    @staticmethod
    def _acknowledgement(st: _State, last, analysis: Analysis | None) -> str:
        if last.skipped:
            return _pick(st.seed, SKIP_ACKS)
        if analysis is None:
            return ""
        if analysis.sentiment == "difficult":
            return _pick(st.seed, DIFFICULT_ACKS)
        if analysis.sentiment == "emotional":
            return _pick(st.seed, EMOTIONAL_ACKS)
        return ""

    def _candidates(self, st: _State, last, analysis: Analysis | None) -> Iterator[Question]:
        if last.skipped:
            order = [c for c in st.category_order() if c not in st.excluded_categories]
            yield from self._bank_questions(st, order, prefer_gentle=st.skips_in_a_row >= 2)
        elif analysis is not None and analysis.sentiment == "difficult":
            yield from self._person_follow_ups(st, analysis, gentle=True)
            order = [c for c in st.category_order() if c not in ("tension", "change")]
            yield from self._bank_questions(st, order + ["change"], gentle_only=True)
        else:
            if analysis is not None and st.trailing_follow_ups < MAX_FOLLOW_UPS_IN_A_ROW:
                yield from self._follow_ups(st, analysis, last)
            yield from self._memory_questions(st)
            yield from self._photo_questions(st, last)
            yield from self._bank_questions(st, st.category_order(),
                                            prefer_gentle=st.gentle_mode)
        yield from self._bank_questions(st, list(CATEGORIES), include_all_periods=True)

    # ------------------------------------------------------------ follow-ups
    def _follow_ups(self, st: _State, analysis: Analysis, last) -> Iterator[Question]:
        yield from self._person_follow_ups(st, analysis)
        yield from self._place_follow_ups(st, analysis)
        yield from self._year_follow_ups(st, analysis, last)
        yield from self._theme_follow_ups(st, analysis)

    def _person_follow_ups(self, st: _State, analysis: Analysis,
                           gentle: bool = False) -> Iterator[Question]:
        described = set(analysis.describes_person)
        for label in analysis.people:
            if st.mentioned(_person_probe(label)):
                continue
            ref, subj, obj, was = _person_forms(_plain(label, 60))
            if gentle:
                templates: Sequence[str] = GENTLE_PERSON_TEMPLATES
            elif label in described:  # already described: ask for a moment instead
                templates = PERSON_TEMPLATES[3:]
            else:
                templates = PERSON_TEMPLATES
            text = _capitalise(_pick(f"{st.seed}|{label}", templates).format(
                ref=ref, subj=subj, obj=obj, was=was))
            if st.allowed(text, "people"):
                yield Question(text, "people", "follow_up", follow_up_of=label,
                               life_period=st.period, key=f"follow_up:person:{_norm(label)}")

    def _place_follow_ups(self, st: _State, analysis: Analysis) -> Iterator[Question]:
        for place in analysis.places:
            if st.mentioned(place):
                continue
            text = _pick(f"{st.seed}|{place}", PLACE_TEMPLATES).format(place=_plain(place, 60))
            if st.allowed(text, "scene"):
                yield Question(text, "scene", "follow_up", follow_up_of=place,
                               life_period=st.period, key=f"follow_up:place:{_norm(place)}")

    def _year_follow_ups(self, st: _State, analysis: Analysis, last) -> Iterator[Question]:
        answer = last.answer or ""
        for year in analysis.years:
            when = str(year) if str(year) in answer or year % 10 else f"the {year}s"
            if st.mentioned(str(year)) or st.mentioned(f"{year}s"):
                continue
            text = _pick(f"{st.seed}|{year}", YEAR_TEMPLATES).format(when=when)
            if st.allowed(text, "scene"):
                yield Question(text, "scene", "follow_up", follow_up_of=str(year),
                               life_period=st.period, key=f"follow_up:year:{year}")

    def _theme_follow_ups(self, st: _State, analysis: Analysis) -> Iterator[Question]:
        categories = [c for c in st.category_order() if c in ("scene", "people", "change")]
        for theme in analysis.key_themes:
            period = _THEME_TO_PERIOD.get(theme)
            tag = _THEME_TO_TAG.get(theme)
            if (period is None and tag is None) or period == st.period:
                continue
            for category in categories:
                for q in self.bank:
                    if q.category != category or _special(q):
                        continue
                    if not ((period and q.life_period == period) or (tag and tag in q.tags)):
                        continue
                    if q.life_period in _SENSITIVE_PERIODS and "gentle" not in q.tags:
                        continue
                    if st.allowed(q.text, q.category, q):
                        yield Question(q.text, q.category, "follow_up",
                                       follow_up_of=f"theme:{theme}",
                                       life_period=q.life_period, key=q.key)

    # ------------------------------------------------------------ memories and photos
    def _memory_questions(self, st: _State) -> Iterator[Question]:
        used = st.count_marked(_MEMORY_MARKERS)
        since = st.turns_since(_MEMORY_MARKERS)
        if used >= MAX_MEMORY_QUESTIONS or (since is not None and since < MEMORY_GAP):
            return
        for memory in _rank_memories(st):
            question = _memory_question(st, memory)
            if question is not None and st.allowed(question.text, question.category):
                yield question

    def _photo_questions(self, st: _State, last) -> Iterator[Question]:
        if not st.ctx.wants_photos:
            return
        last_was_photo = any(m in _norm(last.question) for m in _PHOTO_MARKERS)
        if last_was_photo and not last.skipped:
            for q in self.bank:
                if "photo" in q.tags and st.allowed(q.text, q.category, q):
                    yield Question(q.text, q.category, "photo", life_period=q.life_period,
                                   key=q.key)
                    break
        used = st.count_marked(_PHOTO_MARKERS)
        since = st.turns_since(_PHOTO_MARKERS)
        captions = st.ctx.photo_captions
        if used >= len(captions) or (since is not None and since < PHOTO_GAP):
            return
        caption = _plain(captions[used], 80)
        ref = f'another photo you shared, "{caption}"' if caption else \
            "another of the photos you shared"
        text = f"Let's look at {ref}. What was happening on the day it was taken?"
        if st.allowed(text, "scene"):
            yield Question(text, "scene", "photo", life_period=st.period, key=f"photo:{used}")

    # ------------------------------------------------------------ the bank
    def _bank_questions(
        self,
        st: _State,
        categories: Sequence[str],
        *,
        gentle_only: bool = False,
        prefer_gentle: bool = False,
        include_all_periods: bool = False,
    ) -> Iterator[Question]:
        groups = st.period_order()
        if include_all_periods:
            groups = groups + [sorted(_SENSITIVE_PERIODS - {st.period})]
        passes = (True, False) if prefer_gentle and not gentle_only else (gentle_only,)
        for periods in groups:
            for category in categories:
                for gentle_pass in passes:
                    for q in self.bank:
                        if (q.category != category or q.life_period not in periods
                                or _special(q)):
                            continue
                        if gentle_pass and "gentle" not in q.tags:
                            continue
                        if st.allowed(q.text, q.category, q):
                            yield Question(q.text, q.category, "bank",
                                           life_period=q.life_period, key=q.key)

    # ------------------------------------------------------------ finishing
    def _closing(self, st: _State, done: bool) -> Question | None:
        closings = [q for q in self.bank if "closing" in q.tags]
        closing_texts = [_norm(q.text) for q in closings]
        farewells = [f.format(name=_farewell_name(st.ctx)) for f in FAREWELLS]
        closing_turns = [
            i for i, text in enumerate(st.asked)
            if any(c in text for c in closing_texts) or any(_norm(f) in text for f in farewells)
        ]
        last_index = len(st.turns) - 1
        last = st.turns[-1]
        if closing_turns and closing_turns[-1] == last_index:
            words = len((last.answer or "").split())
            said_no = re.match(r"\s*(?:no|nope|nothing|not really)\b", last.answer or "", re.I)
            if not (done or last.skipped or words < 6 or said_no):
                return None  # they have more to say: follow it up first
            return self._farewell(st, farewells)
        if closing_turns and last_index - closing_turns[-1] < CLOSING_GAP and not done:
            return None
        if done and closing_turns:
            return self._farewell(st, farewells)
        for q in closings:
            if not st.was_asked(q.text):
                return Question(q.text, q.category, "closing", life_period=q.life_period,
                                key=q.key)
        return self._farewell(st, farewells)

    @staticmethod
    def _farewell(st: _State, farewells: Sequence[str]) -> Question | None:
        for number, text in enumerate(farewells):
            if not st.was_asked(text):
                return Question(text, "meaning", "closing", life_period=st.period,
                                key=f"closing:farewell:{number}")
        return None

    def _last_resort(self, st: _State) -> Question:
        topic = session_topic(st.ctx, st.period)
        for number, template in enumerate(LAST_RESORT):
            text = template.format(topic=topic)
            if not st.was_asked(text):
                return Question(text, "meaning", "bank", life_period=st.period,
                                key=f"last_resort:{number}")
        farewell = self._farewell(st, [f.format(name=_farewell_name(st.ctx)) for f in FAREWELLS])
        if farewell is not None:
            return farewell
        number = len(st.turns) + 1
        return Question(
            f"Is there anything else at all you would like to tell me? (Question {number})",
            "meaning", "closing", life_period=st.period, key=f"last_resort:{number}",
        )


# ---------------------------------------------------------------- module helpers


def _normalised(ctx: InterviewContext) -> InterviewContext:
    """The context with None lists read as empty (callers fill it from nullable columns)."""
    lists = ("success_indicators", "completion_indicators", "constraints", "life_events",
             "turns", "memories", "photo_captions", "artifacts")
    if all(getattr(ctx, name) is not None for name in lists) and ctx.intention is not None:
        return ctx
    changes = {name: list(getattr(ctx, name) or []) for name in lists}
    return replace(ctx, intention=ctx.intention or "", **changes)


def _special(q: BankQuestion) -> bool:
    return "opening" in q.tags or "closing" in q.tags or "photo" in q.tags


def _with_prefix(question: Question, prefix: str) -> Question:
    if not prefix:
        return question
    return Question(
        text=f"{prefix} {question.text}", category=question.category, source=question.source,
        follow_up_of=question.follow_up_of, life_period=question.life_period,
        key=question.key, used_memory_ids=question.used_memory_ids,
    )


_TITLE_WORDS = frozenset({"Mr", "Mrs", "Miss", "Ms", "Dr", "Mr.", "Mrs.", "Ms.", "Dr.", "Sister",
                          "Father", "Reverend", "Rev", "Lady", "Sir"})


def _greeting_name(ctx: InterviewContext) -> tuple[str, tuple[str, ...]]:
    for memory in ctx.memories:
        preferred = memory.content.get("preferred_name") if memory.memory_type == \
            "preference" else None
        if isinstance(preferred, str) and _plain(preferred, 40):
            return _plain(preferred, 40), (memory.id,)
    name = _plain(ctx.storyteller_name, 60)
    words = name.split()
    if not words:
        return "", ()
    if words[0] in _TITLE_WORDS:
        return name, ()
    return words[0], ()


def _farewell_name(ctx: InterviewContext) -> str:
    name, _ids = _greeting_name(ctx)
    return f", {name}" if name else ""


def _memory_text(memory: MemoryItem, key: str) -> str:
    value = memory.content.get(key)
    return _plain(value, 160) if isinstance(value, str | int) else ""


def _rank_memories(st: _State) -> list[MemoryItem]:
    event = _primary_event(st.ctx)
    anchors = [w.lower() for w in re.findall(r"[A-Za-z]{4,}", " ".join(
        filter(None, [event.name if event else None, event.location if event else None])))]
    scored = []
    for position, memory in enumerate(st.ctx.memories):
        if memory.memory_type not in ("person", "place", "event") or memory.confidence < 0.4:
            continue
        blob = " ".join(str(v) for v in memory.content.values()).lower()
        relevance = 0
        if _period_in(blob) == st.period or any(a in blob for a in anchors):
            relevance += 2
        if memory.memory_type == "person" and memory.content.get("relation"):
            relevance += 1
        scored.append((-relevance, -memory.confidence, position, memory))
    return [memory for *_rest, memory in sorted(scored, key=lambda item: item[:3])]


def _memory_question(st: _State, memory: MemoryItem) -> Question | None:
    ids = (memory.id,)
    key = f"memory:{memory.id}"
    if memory.memory_type == "person":
        name = _memory_text(memory, "name")
        relation = _memory_text(memory, "relation")
        subject = _memory_text(memory, "subject")
        if name and relation and not name.lower().startswith(relation.lower()):
            label = f"{relation} {name}" if name.split()[0] not in _TITLE_WORDS else name
        else:
            label = subject or name or (f"my {relation}" if relation else "")
        if not label or st.mentioned(_person_probe(label)):
            return None
        ref, subj, obj, _was = _person_forms(label)
        follow = _pick(f"{st.seed}|{memory.id}", MEMORY_PERSON_QUESTIONS).format(subj=subj,
                                                                                  obj=obj)
        return Question(f"Last time you told me about {ref}. {follow}", "people", "memory",
                        follow_up_of=label, life_period=st.period, key=key, used_memory_ids=ids)
    if memory.memory_type == "place":
        place = _memory_text(memory, "place") or _memory_text(memory, "subject")
        if not place or st.mentioned(place):
            return None
        return Question(f"Last time you mentioned {place}. What is your clearest memory of "
                        "being there?", "scene", "memory", follow_up_of=place,
                        life_period=st.period, key=key, used_memory_ids=ids)
    statement = _memory_text(memory, "statement")
    if not statement or len(statement) < 12 or st.mentioned(statement):
        return None
    if statement[-1] not in ".!?":
        statement += "."
    return Question(f'Last time you told me: "{statement}" I\'d love to hear more about that. '
                    "What happened next?", "scene", "memory", follow_up_of=statement[:60],
                    life_period=st.period, key=key, used_memory_ids=ids)
