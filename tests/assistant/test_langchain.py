"""The LangChain-native retriever and answerer, run through LangChain's own interfaces."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableSequence

from assistant.langchain import CitedAnswerer, HybridRetriever
from assistant.service import Service

QUESTION = "Which Senate committees are the appropriate congressional committees in the WPS act?"
ACT = "wps-act-22usc-2152j.md"
SANCTIONS_DOC = "wh-factsheet-crsv-sanctions-2023.md"


def test_the_retriever_returns_documents_with_citation_metadata(sample_service: Service) -> None:
    retriever = HybridRetriever(service=sample_service, k=4)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(QUESTION)
    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    first = docs[0]
    assert (
        first.metadata["doc_id"] == ACT and "Committee on Foreign Relations" in first.page_content
    )
    assert set(first.metadata) >= {"doc_id", "title", "location", "start", "end", "score"}
    assert first.metadata["end"] - first.metadata["start"] == len(first.page_content)
    scoped = HybridRetriever(service=sample_service, k=3, documents=[SANCTIONS_DOC])
    assert {d.metadata["doc_id"] for d in scoped.invoke(QUESTION)} == {SANCTIONS_DOC}
    batch = retriever.batch([QUESTION, "Who leads the Gender Policy Council?"])
    assert [len(b) for b in batch] == [4, 4]


def test_an_lcel_chain_gives_the_verified_answer(sample_service: Service) -> None:
    answerer = CitedAnswerer(sample_service)
    chain = (lambda q: {"question": q.strip()}) | answerer | (lambda a: a["citations"])  # README
    assert isinstance(chain, RunnableSequence)
    citations = chain.invoke(f"  {QUESTION}  ")
    assert citations and citations[0]["doc_id"] == ACT
    assert "Committee on Foreign Relations" in citations[0]["quote"]

    # messages in, as a chat model gets them: the follow-up uses the earlier question
    follow_up = answerer.invoke(
        [
            HumanMessage("Who must make sure Department of Defense personnel get WPS training?"),
            AIMessage("The Secretary of Defense [1]."),
            HumanMessage("Which bodies of law must that training cover?"),
        ]
    )
    assert follow_up["question"].endswith("Which bodies of law must that training cover?")
    assert follow_up["refused"] is False and "humanitarian law" in follow_up["answer"]

    unanswerable = answerer.invoke("What is the boiling point of mercury on Jupiter?")
    assert unanswerable["refused"] is True and unanswerable["citations"] == []
