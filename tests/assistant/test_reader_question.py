"""What a question asks for: its focus terms, counts for "how many", and the kind of answer
(name, date, number) a sentence must hold."""

from __future__ import annotations

import pytest

from assistant.reader import answer_type_ok, counted, focus_terms


@pytest.mark.parametrize(
    "question,terms,required",
    [
        # "who was the X": the answer must name an X
        ("Who was the course director of the alpha course?", ["director"], True),
        ("How many hours does the course last?", ["hour"], True),
        # in "officers and lawyers" the last conjunct carries the head noun
        ("How many officers and lawyers attended?", ["lawyer"], True),
        # "which X": an instance of X may answer, so the terms are not required
        (
            "Which Senate committees are the appropriate congressional committees?",
            ["senat", "committe"],
            False,
        ),
        # category words are exempt, and a past-tense verb ends the noun phrase
        ("What body adopted resolution 1325?", [], False),
        ("Which countries joined the coalition in 2020?", [], False),
        # no noun focus: a person is asked for, or a verb follows "how much"
        ("Who leads the White House Gender Policy Council?", [], False),
        ("How much does the course cost?", [], False),
        ("Why was the strategy revised?", [], False),
    ],
)
def test_focus_terms(question: str, terms: list[str], required: bool) -> None:
    assert focus_terms(question) == (terms, required)


@pytest.mark.parametrize(
    "question,sentence,expected",
    [
        ("How many judges hear an appeal?", "Each appeal is heard by three judges.", True),
        ("How many judges hear an appeal?", "The panel has 3 sitting judges in all.", True),
        ("How many judges hear an appeal?", "The judges of the panel are drawn by lot.", False),
        # the number must come shortly before the counted word, not anywhere in the sentence
        (
            "How many judges hear an appeal?",
            "In 1990 the court decided that from then on the panel of judges would be drawn.",
            False,
        ),
        ("Who hears an appeal?", "The judges of the panel.", True),  # not a "how many" question
    ],
)
def test_counted(question: str, sentence: str, expected: bool) -> None:
    assert counted(question, sentence, "judg") is expected


@pytest.mark.parametrize(
    "question,sentence,expected",
    [
        ("Who is the director of the course?", "The director is Jane Smith.", True),
        ("Who is Jane Smith?", "Jane Smith leads it.", False),  # only the name already asked
        ("What are the names of the judges?", "The judges are elected for life.", False),
        ("When was the lighthouse rebuilt?", "It was rebuilt in 1874 in granite.", True),
        ("When was the lighthouse rebuilt?", "It was rebuilt in March after the storm.", True),
        ("When was the lighthouse rebuilt?", "It was rebuilt after the storm.", False),
        ("How long does the course run?", "It runs for two weeks.", True),
        ("What percentage of staff are women?", "Most staff are women.", False),
        ("What does the act require?", "It requires a strategy.", True),  # no answer type
    ],
)
def test_answer_type_ok(question: str, sentence: str, expected: bool) -> None:
    assert answer_type_ok(question, sentence) is expected
