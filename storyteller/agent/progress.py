"""Heuristic evaluation of a session's success and completion indicators (seed 003).

Indicators are free text written by coordinators ("At least 3 scenes captured with
who/where/when details", "Key family members identified", "Storyteller says
they've covered the main memories").  Each is matched to a rule by its wording; a
number in it ("3+", "at least 3", "3-5", "three") sets the threshold.  Anything
unrecognised falls back to keyword overlap with the answers once enough turns are
answered.  Evidence points at a turn: ``evidence_turn_index`` is the 0-based index
into ``ctx.turns`` and ``evidence`` reads "turn N" (1-based) or names an artifact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storyteller.agent.analysis import (
    FAMILY_RELATIONS,
    Analysis,
    analyze_answer,
    is_done_signal,
)
from storyteller.agent.context import CATEGORIES, ArtifactRef, InterviewContext, Turn

__all__ = [
    "ArtifactRef",
    "IndicatorResult",
    "analysis_of",
    "can_complete",
    "completion_percentage",
    "evaluate_indicators",
]

MIN_TURNS_WITHOUT_INDICATORS = 5


@dataclass(frozen=True)
class IndicatorResult:
    indicator: str
    met: bool
    evidence: str | None = None
    evidence_turn_index: int | None = None


def analysis_of(turn: Turn) -> Analysis | None:
    """The turn's analysis, computed when the stored one is missing or empty."""
    if turn.skipped or not (turn.answer or "").strip():
        return None
    if turn.analysis is not None and turn.analysis.word_count:
        return turn.analysis
    return analyze_answer(turn.answer)


# --------------------------------------------------------------------------- facts


class _Facts:
    """What the answers so far contain, computed once per evaluation."""

    def __init__(self, ctx: InterviewContext, artifacts: Sequence[ArtifactRef]) -> None:
        self.ctx = ctx
        self.artifacts = list(artifacts)
        self.answered: list[tuple[int, Turn, Analysis]] = []
        for index, turn in enumerate(ctx.turns or []):
            analysis = analysis_of(turn)
            if analysis is not None:
                self.answered.append((index, turn, analysis))

    def artifacts_of(self, *types: str) -> list[ArtifactRef]:
        return [a for a in self.artifacts if a.artifact_type in types]

    def scene_turns(self) -> list[tuple[int | None, str]]:
        """(turn index, evidence) for every scene, from analyses and scene artifacts."""
        found: dict[object, str] = {}
        for index, _turn, analysis in self.answered:
            if analysis.is_scene:
                found[index] = f"turn {index + 1}"
        for number, artifact in enumerate(self.artifacts_of("scene_capture")):
            key = artifact.turn_index if artifact.turn_index is not None else f"artifact{number}"
            found.setdefault(key, artifact.summary or f"scene capture ({_turn_label(artifact)})")
        return [(k if isinstance(k, int) else None, v) for k, v in found.items()]


def _turn_label(artifact: ArtifactRef) -> str:
    return f"turn {artifact.turn_index + 1}" if artifact.turn_index is not None else "artifact"


def _result(indicator: str, items: list[tuple[int | None, str]], needed: int) -> IndicatorResult:
    """Met when at least ``needed`` items; evidence is the item that reached it."""
    if needed <= 0:
        needed = 1
    if len(items) >= needed:
        ordered = sorted(items, key=lambda item: (item[0] is None, item[0] or 0))
        index, evidence = ordered[needed - 1]
        return IndicatorResult(indicator, True, evidence, index)
    if items:
        return IndicatorResult(indicator, False, f"{len(items)} of {needed} so far", None)
    return IndicatorResult(indicator, False, None, None)


# --------------------------------------------------------------------------- numbers

_WORD_NUMBERS = {
    "one": 1, "a single": 1, "two": 2, "a couple": 2, "couple": 2, "pair": 2, "three": 3,
    "a few": 3, "few": 3, "several": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "a dozen": 12,
}
_NUMBER_RE = re.compile(r"\b(\d{1,3})\b|\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)


def parse_count(indicator: str, default: int) -> int:
    """The threshold an indicator names ("3+", "at least three", "3-5" -> 3)."""
    m = _NUMBER_RE.search(indicator)
    if not m:
        return default
    if m.group(1):
        return max(1, int(m.group(1)))
    return _WORD_NUMBERS[m.group(2).lower()]


# --------------------------------------------------------------------------- rules

_GROWTH_WORDS_RE = re.compile(
    r"\b(?:learn(?:ed|t)?|taught me|chang(?:ed|es)|grew|grown|realis(?:ed|e)|realiz(?:ed|e)|"
    r"became|become|stronger|understand|understood|appreciate|lesson|wiser|made me|shaped|"
    r"looking back|meant|means|matter(?:s|ed)|proud|grateful|perspective)\b",
    re.IGNORECASE,
)


def _rule_done(ind: str, facts: _Facts) -> IndicatorResult:
    for index, turn, _analysis in reversed(facts.answered[-2:]):
        if is_done_signal(turn.answer):
            return IndicatorResult(ind, True, f"turn {index + 1}", index)
    return IndicatorResult(ind, False)


def _rule_scenes(ind: str, facts: _Facts) -> IndicatorResult:
    default = 2 if re.search(r"specific|moments?", ind, re.IGNORECASE) else 3
    return _result(ind, facts.scene_turns(), parse_count(ind, default))


def _rule_people(ind: str, facts: _Facts) -> IndicatorResult:
    family = bool(re.search(r"famil|relative|parent|sibling|kin", ind, re.IGNORECASE))
    described = bool(re.search(r"descri|portrait|character", ind, re.IGNORECASE))
    seen: dict[str, tuple[int, str]] = {}
    for index, _turn, analysis in facts.answered:
        pool = analysis.describes_person if described else analysis.people
        family_labels = _family_labels(analysis) if family else None
        for label in pool:
            if family_labels is not None and label not in family_labels:
                continue
            seen.setdefault(label.lower(), (index, f"turn {index + 1}: {label}"))
    items: list[tuple[int | None, str]] = list(seen.values())
    mapped = facts.artifacts_of("relationship_mapping")
    needed = parse_count(ind, 2)
    if len(mapped) >= needed and len(items) < needed:
        items = [(a.turn_index, a.summary or "relationship mapping") for a in mapped]
    return _result(ind, items, needed)


def _family_labels(analysis: Analysis) -> set[str]:
    labels = set()
    for relation, name in analysis.kinship:
        if relation not in FAMILY_RELATIONS:
            continue
        for label in analysis.people:
            if (name and label.endswith(name)) or (not name and label.startswith("my ")
                                                   and relation.split("-")[0] in label):
                labels.add(label)
    return labels


def _rule_timespan(ind: str, facts: _Facts) -> IndicatorResult:
    seen: dict[int, tuple[int, str]] = {}
    for index, _turn, analysis in facts.answered:
        for year in analysis.years:
            seen.setdefault(year, (index, f"turn {index + 1}: {year}"))
    items: list[tuple[int | None, str]] = list(seen.values())
    timeline = facts.artifacts_of("timeline_entry")
    if len(timeline) >= 2 and len(items) < 2:
        items = [(a.turn_index, a.summary or "timeline entry") for a in timeline]
    return _result(ind, items, parse_count(ind, 2))


def _rule_milestones(ind: str, facts: _Facts) -> IndicatorResult:
    found: dict[object, str] = {}
    for number, artifact in enumerate(facts.artifacts_of("timeline_entry")):
        key = artifact.turn_index if artifact.turn_index is not None else f"artifact{number}"
        found[key] = artifact.summary or f"timeline entry ({_turn_label(artifact)})"
    for index, _turn, analysis in facts.answered:
        if analysis.years:
            found.setdefault(index, f"turn {index + 1}: {analysis.years[0]}")
    items = [(k if isinstance(k, int) else None, v) for k, v in found.items()]
    default = 3 if re.search(r"\ball\b", ind, re.IGNORECASE) else 2
    return _result(ind, items, parse_count(ind, default))


def _rule_growth(ind: str, facts: _Facts) -> IndicatorResult:
    items: list[tuple[int | None, str]] = []
    for index, turn, _analysis in facts.answered:
        if turn.category in ("meaning", "change", None) and _GROWTH_WORDS_RE.search(
            turn.answer or ""
        ):
            items.append((index, f"turn {index + 1}"))
    return _result(ind, items, parse_count(ind, 1))


def _rule_material(ind: str, facts: _Facts) -> IndicatorResult:
    drafts = facts.artifacts_of("draft_paragraph")
    if drafts:
        return IndicatorResult(ind, True, drafts[0].summary or "draft paragraph",
                               drafts[0].turn_index)
    total = 0
    for position, (index, _turn, analysis) in enumerate(facts.answered):
        total += analysis.word_count
        if total >= 400 and position >= 3:
            return IndicatorResult(ind, True, f"turn {index + 1}: {total} words", index)
    return IndicatorResult(ind, False, f"{total} words so far" if total else None)


def _rule_coverage(ind: str, facts: _Facts) -> IndicatorResult:
    seen: list[str] = []
    for position, (index, turn, _analysis) in enumerate(facts.answered):
        if turn.category in CATEGORIES and turn.category not in seen:
            seen.append(turn.category)
        if len(seen) >= 4 and position >= 5:
            return IndicatorResult(ind, True, f"turn {index + 1}: {len(seen)} kinds of question",
                                   index)
    return IndicatorResult(ind, False)


def _rule_photo(ind: str, facts: _Facts) -> IndicatorResult:
    items: list[tuple[int | None, str]] = [
        (a.turn_index, a.summary or "photo annotation") for a in facts.artifacts_of(
            "photo_annotation")
    ]
    for index, turn, _analysis in facts.answered:
        if re.search(r"\bphoto", turn.question, re.IGNORECASE):
            items.append((index, f"turn {index + 1}"))
    return _result(ind, items, parse_count(ind, 1))


def _rule_places(ind: str, facts: _Facts) -> IndicatorResult:
    seen: dict[str, tuple[int, str]] = {}
    for index, _turn, analysis in facts.answered:
        for place in analysis.places:
            seen.setdefault(place.lower(), (index, f"turn {index + 1}: {place}"))
    return _result(ind, list(seen.values()), parse_count(ind, 2))


def _rule_feelings(ind: str, facts: _Facts) -> IndicatorResult:
    items: list[tuple[int | None, str]] = [
        (index, f"turn {index + 1}: {analysis.sentiment}")
        for index, _turn, analysis in facts.answered
        if analysis.sentiment != "neutral" and analysis.word_count >= 12
    ]
    return _result(ind, items, parse_count(ind, 1))


_INDICATOR_STOPWORDS = frozenset(
    """a an the and or of to in on at by for from with about into is are was were be been
    has have had storyteller storytellers they them their he she his her it its this that
    these those least more most all any some each every session sessions identified captured
    noted covered mentioned shared recalled discussed described explored key major main
    specific clear enough good well details detail detailed rich basic important
    significant""".split()
)


def _rule_fallback(ind: str, facts: _Facts) -> IndicatorResult:
    needed = parse_count(ind, 3)
    stems = [
        word[:5]
        for word in re.findall(r"[a-z]+", ind.lower())
        if len(word) > 3 and word not in _INDICATOR_STOPWORDS
    ]
    if len(facts.answered) < needed:
        return IndicatorResult(ind, False, f"{len(facts.answered)} answers so far"
                               if facts.answered else None)
    if not stems:
        index = facts.answered[needed - 1][0]
        return IndicatorResult(ind, True, f"turn {index + 1}", index)
    for index, turn, _analysis in facts.answered:
        words = re.findall(r"[a-z]+", (turn.answer or "").lower())
        if any(word.startswith(stem) for word in words for stem in stems):
            return IndicatorResult(ind, True, f"turn {index + 1}", index)
    return IndicatorResult(ind, False)


_RULES: list[tuple[re.Pattern, Callable[[str, _Facts], IndicatorResult]]] = [
    (re.compile(r"\bsays?\b|\bfeels?\b.*\b(?:complete|done|finished|covered|satisf|ready)|"
                r"\bsatisf|ready to (?:finish|stop|end|move on)|nothing (?:else|more) to add|"
                r"\bwants? to (?:stop|finish)", re.I), _rule_done),
    (re.compile(r"\bscenes?\b|specific (?:moments?|memor)|who/where/when|not generali|"
                r"\bmoments?\b", re.I), _rule_scenes),
    (re.compile(r"milestones?|key events|major events|turning points|life events", re.I),
     _rule_milestones),
    (re.compile(r"time ?span|time ?frame|time ?line|\bdates?\b|\byears?\b|when it "
                r"(?:began|started|ended)|start and end|chronolog", re.I), _rule_timespan),
    (re.compile(r"\bpeople\b|\bpersons?\b|family members?|relatives|characters|"
                r"relationships?|siblings|parents|family (?:members?|tree)", re.I), _rule_people),
    (re.compile(r"growth|grew as|changed (?:you|them|me|him|her|their)|lessons?|learn|"
                r"meaning|reflect|what it meant|broader story|connected to|insight", re.I),
     _rule_growth),
    (re.compile(r"draft|enough material|material for|enough (?:for|to write)", re.I),
     _rule_material),
    (re.compile(r"\bgaps?\b|coverage|\bcovered\b|all (?:the )?(?:main|major|key)", re.I),
     _rule_coverage),
    (re.compile(r"photo|picture|photograph", re.I), _rule_photo),
    (re.compile(r"\bplaces?\b|locations?|settings?|where (?:they|he|she|we|I) lived", re.I),
     _rule_places),
    (re.compile(r"emotion|feelings?|\bfelt\b|sentiment", re.I), _rule_feelings),
]


def evaluate_indicators(
    indicators: Sequence[str],
    ctx: InterviewContext,
    artifacts: Sequence[ArtifactRef] | None = None,
) -> list[IndicatorResult]:
    """One result per indicator, in order.  ``artifacts`` defaults to ``ctx.artifacts``."""
    facts = _Facts(ctx, (ctx.artifacts or []) if artifacts is None else artifacts)
    results = []
    for indicator in indicators or []:
        text = str(indicator or "").strip()
        if not text:
            results.append(IndicatorResult(str(indicator or ""), False))
            continue
        rule = next((rule for pattern, rule in _RULES if pattern.search(text)), _rule_fallback)
        results.append(rule(text, facts))
    return results


def completion_percentage(
    success: Sequence[IndicatorResult], completion: Sequence[IndicatorResult]
) -> int:
    """0-100: the mean of the met share of each non-empty list."""
    shares = [sum(1 for r in results if r.met) / len(results)
              for results in (success, completion) if results]
    if not shares:
        return 0
    return max(0, min(100, round(100 * sum(shares) / len(shares))))


def can_complete(
    completion_results: Sequence[IndicatorResult], ctx: InterviewContext | None = None
) -> bool:
    """All completion indicators met.  With no indicators, the session can complete
    once at least five turns are answered (which needs ``ctx``)."""
    if completion_results:
        return all(r.met for r in completion_results)
    if ctx is None:
        return False
    answered = sum(1 for turn in ctx.turns or [] if analysis_of(turn) is not None)
    return answered >= MIN_TURNS_WITHOUT_INDICATORS
