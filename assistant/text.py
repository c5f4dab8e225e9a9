"""Tokenisation shared by the keyword index and the answerer's lexical scoring."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# letters of any script (é, ñ, ü are part of a word, not breaks in it) and digits
_TOKEN = re.compile(r"[^\W_]+(?:[.'’][^\W_]+)*")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "shall",
        "must",
        "may",
        "might",
        "upon",
        "whose",
        "within",
        "without",
        "per",
    ]
)
# Spanish function words (articles, pronouns, prepositions, conjunctions, common forms of ser,
# estar, haber), with and without their accents, as people type both
_SPANISH_STOPWORDS = """
    a al algo algun alguna algunas alguno algunos ante antes como cómo con contra cual cuál
    cuales cuáles cuando cuándo de del desde donde dónde durante e el él ella ellas ello ellos
    en entre era eran eres es esa esas ese eso esos esta está estaba estaban estado estamos
    estan están estar estas estás este esto estos estoy fue fueron fui ha habia había habian
    habían han has hasta hay he la las le les lo los mas más me mi mis mucho muchos muy ni no
    nos nosotros o os otra otras otro otros para pero poco por porque que qué quien quién
    quienes quiénes se sea sean ser si sí sido siendo sin sino sobre somos son soy su sus
    suya suyas suyo suyos también tampoco tan tanto te tenemos tener tengo ti tiene tienen
    todo todos tu tú tus un una unas uno unos usted ustedes y ya yo
"""
SPANISH_STOPWORDS = frozenset(_SPANISH_STOPWORDS.split())
_STOPWORDS = {"en": STOPWORDS, "es": SPANISH_STOPWORDS}

QUESTION_WORDS = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])

# Snowball stemmers (PyStemmer) for the languages ingest detects (ingest.language); any other
# language, or none detected, is treated as English
_STEMMER_NAMES = {
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "pt": "portuguese",
    "it": "italian",
    "de": "german",
    "nl": "dutch",
}
_stemmers = {code: Stemmer.Stemmer(name) for code, name in _STEMMER_NAMES.items()}
# accents folded after stemming, so "género" and a query typed as "genero" meet; ñ is a letter
_FOLD = str.maketrans("áéíóúàèìòùâêîôûäëïöü", "aeiouaeiouaeiouaeiou")

# Irregular English verb forms the Snowball stemmer leaves apart ("led" vs "leads").
_IRREGULAR = {
    "led": "lead",
    "made": "make",
    "held": "hold",
    "took": "take",
    "taken": "take",
    "gave": "give",
    "given": "give",
    "began": "begin",
    "begun": "begin",
    "sent": "send",
    "spent": "spend",
    "met": "meet",
    "paid": "pay",
    "said": "say",
    "brought": "bring",
    "bought": "buy",
    "built": "build",
    "chose": "choose",
    "chosen": "choose",
    "won": "win",
    "found": "find",
    "kept": "keep",
    "left": "leave",
    "told": "tell",
    "thought": "think",
    "wrote": "write",
    "written": "write",
    "knew": "know",
    "known": "know",
    "shown": "show",
    "drew": "draw",
    "drawn": "draw",
    "grew": "grow",
    "grown": "grow",
    "rose": "rise",
    "risen": "rise",
    "fell": "fall",
    "fallen": "fall",
    "sought": "seek",
    "taught": "teach",
    "caught": "catch",
    "fought": "fight",
    "ran": "run",
    "saw": "see",
    "seen": "see",
    "went": "go",
    "gone": "go",
    "came": "come",
    "became": "become",
    "done": "do",
    "struck": "strike",
    "stood": "stand",
    "understood": "understand",
    "heard": "hear",
    "felt": "feel",
    "meant": "mean",
    "lost": "lose",
    "oversaw": "oversee",
    "overseen": "oversee",
    "undertook": "undertake",
    "undertaken": "undertake",
    "spoke": "speak",
    "spoken": "speak",
    "bore": "bear",
    "borne": "bear",
    "forbade": "forbid",
    "forbidden": "forbid",
    "children": "child",
    "women": "woman",
    "men": "man",
    "people": "person",
}


@lru_cache(maxsize=200_000)
def _stem(word: str, language: str = "en") -> str:
    return str(_stemmers[language].stemWord(word)).translate(_FOLD)


def language_of(code: str) -> str:
    """The tokeniser's language for a detected language code ("" or unknown: English)."""
    return code if code in _stemmers else "en"


def tokens(text: str, language: str = "en") -> list[str]:
    """Lower-cased, stop words removed, Snowball-stemmed terms (accents folded) of ``text`` in
    ``language`` (an ISO 639-1 code; default and fallback English)."""
    language = language_of(language)
    stop = _STOPWORDS.get(language, frozenset())
    irregular = _IRREGULAR if language == "en" else {}
    out = []
    for raw in _TOKEN.findall(text.lower()):
        word = raw.replace("'", "").replace("’", "").rstrip(".")
        if len(word) < 2 and not word.isdigit():
            continue
        if word in stop:
            continue
        out.append(_stem(irregular.get(word, word), language))
    return out


def query_tokens(text: str, languages: frozenset[str] | set[str]) -> list[str]:
    """The query's terms as each of the corpus languages would index them, each term once:
    a question in either language finds documents in both."""
    if not languages or languages <= {"en"}:
        return tokens(text)
    terms: dict[str, None] = {}
    for language in sorted(languages):
        terms.update(dict.fromkeys(tokens(text, language)))
    return list(terms)


_ACRONYM_DEF = re.compile(r"\(([A-Z][A-Za-z]{1,7})\)")


def acronyms(texts: list[str]) -> dict[str, str]:
    """Acronyms the texts define, as in "conflict-related sexual violence (CRSV)"."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _ACRONYM_DEF.finditer(text):
            acronym = match.group(1)
            letters = [ch.lower() for ch in acronym if ch.isupper()]
            if len(letters) < 2:
                continue
            words = re.findall(
                r"[\w’']+(?:-[\w’']+)*", text[max(0, match.start() - 200) : match.start()]
            )
            parts: list[str] = []
            for word in reversed(words):
                parts.insert(0, word)
                initials = [p[0].lower() for w in parts for p in w.split("-") if p]
                significant = [
                    i
                    for i, w in zip(
                        initials, [p for w in parts for p in w.split("-") if p], strict=True
                    )
                    if w.lower() not in _MINOR
                ]
                if significant == letters or initials == letters:
                    found[acronym.lower()] = " ".join(parts)
                    break
                if len(parts) > len(letters) + 3:
                    break
    return found


_MINOR = frozenset(["of", "and", "the", "for", "on", "in", "to", "a", "an"])
