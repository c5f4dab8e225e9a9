"""What a question asks for: its focus terms, which the evidence must contain.

"Who was the course director of ...?" asks for a course director: a passage about the course
that never mentions a director cannot answer it, however similar it is. Category words such
as "body", "amount" or "country" are exempt: the answer names an instance, not the category.
"""

from __future__ import annotations

import re

from assistant.text import tokens

_WH = r"(?:what|which|who|whom|whose|how\s+(?:many|much|long|often|old|large|big))"
_BE = (
    r"(?:is|are|was|were|be|been|does|do|did|has|have|had|can|could|will|would|shall|"
    r"should|must|may)"
)
_FOCUS = re.compile(
    rf"^\s*(?:and\s+|so\s+|then\s+)?(?P<wh>{_WH})\b(?:\s+{_BE}\b)?(?:\s+(?:the|a|an|this|that|"
    rf"these|those|its|their|his|her))?\s+(?P<np>[^?,;]+)",
    re.IGNORECASE,
)
# words that end the noun phrase: verbs, prepositions, clause starters
_NP_END = re.compile(
    r"\b(?:is|are|was|were|be|been|does|do|did|has|have|had|can|could|will|would|shall|should|"
    r"must|may|might|of|in|on|at|for|to|from|by|with|under|about|that|which|who|whom|when|"
    r"where|per|during|between|against|into|through)\b",
    re.IGNORECASE,
)
GENERIC = frozenset(
    tokens(
        """body bodies kind kinds type types sort form forms amount amounts money number numbers
        sum total percentage share entity entities organization organizations organisation
        group groups person people individual individuals official officials country countries
        nation nations place places location date dates day days year years time times way ways
        method methods means reason reasons purpose purposes role roles name names thing things
        item items part parts aspect aspects step steps area areas factor factors topic topics
        subject subjects issue issues document documents action actions measure measures
        element elements category categories example examples goal goals level levels
        requirement requirements responsibility responsibilities one ones law laws
        provision provisions"""
    )
)


def focus_terms(question: str) -> tuple[list[str], bool]:
    """Stemmed head terms of the thing the question asks about, and whether they are
    required: "who was the course director", "how many hours" name what the answer must
    mention; for "what/which X" the answer may name an instance of X instead."""
    match = _FOCUS.match(question)
    if not match:
        return [], False
    wh = match.group("wh").lower()
    after_wh = question[match.end("wh") :]
    if wh in {"who", "whom"} and not re.match(r"^\s*(?:is|are|was|were)\b", after_wh, re.I):
        return [], False  # "Who leads X?" asks for a person; the verb is not the focus
    if wh.startswith("how") and re.match(rf"^\s*{_BE}\b", after_wh, re.I):
        return [], False  # "How much does X cost?" has no noun focus
    phrase = match.group("np")
    end = _NP_END.search(phrase)
    if end:
        phrase = phrase[: end.start()]
    words = phrase.split()
    # a past-tense verb ends the phrase ("countries joined ...")
    for i, word in enumerate(words[1:], start=1):
        if re.search(r"ed$", word, re.I):
            words = words[:i]
            break
    required = wh in {"who", "whom"} or wh.startswith("how")
    if required:
        # in "officers and lawyers" the last conjunct carries the head noun
        words = re.split(r"\s+(?:and|or)\s+", " ".join(words))[-1].split()
        terms = [t for t in tokens(" ".join(words[-1:])) if t not in GENERIC]
        return terms, True
    # "which X ..." without a clear end: the first words are the noun phrase
    words = words[:2] if len(words) > 3 else words[-2:]
    return [t for t in tokens(" ".join(words)) if t not in GENERIC], False


_COUNT = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|twenty|thirty|forty|fifty|hundred|thousand|dozens?|hundreds|thousands|"
    r"millions?|billions?|several|all|no|both|each)\b",
    re.IGNORECASE,
)


def counted(question: str, sentence: str, head: str) -> bool:
    """For "how many X": is some X in the sentence preceded closely by a number?"""
    if not re.match(r"^\s*how\s+many\b", question, re.I):
        return True
    words = re.findall(r"[\w$.,%-]+", sentence)
    for i, word in enumerate(words):
        if tokens(word) == [head] and any(_COUNT.search(w) for w in words[max(0, i - 6) : i]):
            return True
    return False


_NAME_Q = re.compile(r"\b(?:names?\s+of|who\s+(?:is|are|was|were)|named|called)\b", re.I)
_PROPER_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+\b")


_NUMBER_Q = re.compile(
    r"^\s*(?:how\s+(?:many|much|long|often|old)|what\s+(?:percentage|percent|number|amount|sum|"
    r"share|proportion)|in\s+what\s+year)\b",
    re.IGNORECASE,
)
_WHEN_Q = re.compile(r"^\s*(?:when|what\s+(?:year|date|day|month))\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|billion|half|once|twice|annual|annually|"
    r"yearly|quarterly|monthly|weekly|daily)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|"
    r"October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)


def answer_type_ok(question: str, sentence: str) -> bool:
    """Whether the sentence has the kind of thing the question asks for (number, date, name)."""
    if _NAME_Q.search(question):
        asked = question.lower()
        return any(m.group().lower() not in asked for m in _PROPER_NAME.finditer(sentence))
    if _WHEN_Q.match(question):
        return bool(_DATE.search(sentence))
    if _NUMBER_Q.match(question):
        return bool(_NUMBER.search(sentence))
    return True
