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


def focus_terms(question: str) -> list[str]:
    """Stemmed, non-generic terms of the phrase the question asks about ([] if none found)."""
    match = _FOCUS.match(question)
    if not match:
        return []
    phrase = match.group("np")
    wh = match.group("wh").lower()
    # "Who leads X?" asks for a person, the verb is not the focus; "Who was the Y?" is.
    after_wh = question[match.end("wh") :]
    if wh in {"who", "whom"} and not re.match(r"^\s*(?:is|are|was|were)\b", after_wh, re.I):
        return []
    end = _NP_END.search(phrase)
    if end:
        phrase = phrase[: end.start()]
    words = phrase.split()
    # a participle or past-tense verb ends the phrase ("countries joined ...")
    for i, word in enumerate(words[1:], start=1):
        if re.search(r"(?:ed|ing)$", word, re.I):
            words = words[:i]
            break
    words = words[:2] if wh.startswith("how") else words[:4]
    return [t for t in tokens(" ".join(words)) if t not in GENERIC]
