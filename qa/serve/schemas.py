"""The JSON shapes of the HTTP API, as pydantic models: what ``/docs`` and ``/openapi.json`` publish.

The request models are also what validates a request body (:mod:`qa.serve.bodies`): strict types (no
``"3"`` for 3, no ``true`` for 1) and no unknown fields, so the published schema is the one enforced.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa.config import TOP_K_MAX, TOP_K_MIN

STRICT = ConfigDict(strict=True, extra="forbid")


class TurnIn(BaseModel):
    model_config = STRICT

    question: str = Field(description="An earlier question, as it was asked")
    answer: str | None = Field(None, description="The answer it got, or null when the sources did not answer")


class AskRequest(BaseModel):
    model_config = STRICT

    question: str = Field(description="The question, in words", examples=["When did Japan rule Korea as a colony?"])
    top_k: int | None = Field(None, ge=TOP_K_MIN, le=TOP_K_MAX,
                              description="Passages to retrieve (default: top_k in qa.yaml)")
    history: list[TurnIn] | None = Field(
        None, description="The conversation so far, oldest first (at most limits.max_history_turns turns): a "
                          "follow-up such as \"When did it end?\" is then asked as the question it stands for, "
                          "returned as standalone_question. The server keeps no conversation.",
        examples=[[{"question": "When did North Korea invade South Korea?", "answer": "June 1950"}]])


class CitationOut(BaseModel):
    source: str
    title: str
    start: int
    end: int
    quote: str = Field(description="document_text[start:end]")
    answer_start: int | None
    answer_end: int | None
    score: float
    url: str | None = None
    page: int | None = Field(None, description="1-based page of start (PDF sources only)")


class PassageOut(BaseModel):
    source: str
    title: str
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float
    page: int | None = Field(None, description="1-based page of start (PDF sources only)")


class AnswerOut(BaseModel):
    question: str
    standalone_question: str | None = Field(None, description="What was asked of the sources; only when a "
                                                               "history was sent (e.g. \"When did the invasion of "
                                                               "South Korea by North Korea end?\")")
    answer: str | None = Field(description="A verbatim span of the first citation, or null when abstained")
    abstained: bool
    confidence: float
    citations: list[CitationOut]
    passages: list[PassageOut]
    reason: str | None = Field(None, description="Why it abstained (abstentions only)")
    note: str | None = Field(None, description="A caveat on the answer, e.g. that the sentence holds no date "
                                               "although the question asks for one")


class CheckRequest(BaseModel):
    """Exactly one of ``claim`` and ``quote``; ``source`` only with a quote."""

    model_config = STRICT

    claim: str | None = Field(None, description="One or more sentences to check (one verdict per sentence)",
                              examples=["Japan is the second-largest economy in the world."])
    quote: str | None = Field(None, description="Instead of a claim: words to find verbatim in the sources")
    source: str | None = Field(None, description="With quote: only look in this document id")

    @model_validator(mode="after")
    def _one_of(self) -> "CheckRequest":
        for key in ("claim", "quote"):  # null is no claim: say so, rather than "send exactly one"
            if key in self.model_fields_set and getattr(self, key) is None:
                raise ValueError(f"'{key}' must be a string, got null")
        if (self.claim is None) == (self.quote is None):
            raise ValueError("send exactly one of 'claim' or 'quote'")
        if self.source is not None and self.quote is None:
            raise ValueError("'source' only applies to a 'quote'")
        return self


class MismatchOut(BaseModel):
    claim_text: str
    claim_start: int = Field(description="offset into claim")
    claim_end: int
    evidence_text: str
    evidence_start: int = Field(description="offset into the document text")
    evidence_end: int
    kind: str
    source: str


class EvidenceOut(BaseModel):
    source: str
    title: str
    start: int
    end: int
    quote: str = Field(description="document_text[start:end]")
    score: float
    url: str | None = None
    page: int | None = None


class VerdictOut(BaseModel):
    claim: str
    verdict: str = Field(description="supported, contradicted or not_found")
    confidence: float
    evidence: list[EvidenceOut]
    mismatches: list[MismatchOut]
    related: list[EvidenceOut] | None = Field(None, description="not_found only: the closest passages, "
                                                                "with offsets (where to look)")


class CheckOut(BaseModel):
    verdicts: list[VerdictOut] | None = Field(None, description="For a claim: one verdict per sentence")
    quote: dict[str, Any] | None = Field(None, description="For a quote: status verbatim/differs/not_found, "
                                                             "the closest passage with offsets, and word diffs")


class SourceOut(BaseModel):
    id: str
    title: str
    text: str
    meta: dict[str, Any] = Field(description="From sources.yaml: url, author, site, date, license (where given)")
    pages: list[int] | None = Field(None, description="Start offset in text of each page (PDF sources only)")


class ErrorOut(BaseModel):
    error: str
