"""What a claim check returns: a :class:`Verdict` with its :class:`Evidence` and :class:`Mismatch` pairs.

Each checks its own invariants: every quote is the document text at its offsets, a contradicted
verdict has mismatches and only it has, a not_found verdict has no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.text.links import link_fields, safe_url

SUPPORTED, CONTRADICTED, NOT_FOUND = "supported", "contradicted", "not_found"
VERDICTS = (SUPPORTED, CONTRADICTED, NOT_FOUND)
# The kind of a mismatch where one side negates what the other states ("never" against "invaded").
NEGATION = "NEGATION"
# ... where one side goes the other way ("decreases" against "increases", "inhibits" against "promotes").
DIRECTION = "DIRECTION"


@dataclass(frozen=True)
class Mismatch:
    """A detail the claim and the evidence state differently, both sides with offsets."""

    claim_text: str
    claim_start: int
    claim_end: int
    evidence_text: str
    evidence_start: int
    evidence_end: int
    kind: str
    source: str

    def __post_init__(self) -> None:
        if self.claim_end - self.claim_start != len(self.claim_text) or self.claim_start < 0:
            raise ValueError("Mismatch.claim_text must be claim[claim_start:claim_end]")
        if self.evidence_end - self.evidence_start != len(self.evidence_text) or self.evidence_start < 0:
            raise ValueError("Mismatch.evidence_text must be document_text[evidence_start:evidence_end]")

    def to_dict(self) -> dict:
        return {"claim_text": self.claim_text, "claim_start": self.claim_start, "claim_end": self.claim_end,
                "evidence_text": self.evidence_text, "evidence_start": self.evidence_start,
                "evidence_end": self.evidence_end, "kind": self.kind, "source": self.source}


@dataclass(frozen=True)
class Evidence:
    """One sentence, or two adjacent ones, of a source: ``quote == document_text[start:end]``."""

    source: str
    title: str
    start: int
    end: int
    quote: str
    score: float
    url: str | None = None   # the source's http(s) url with a text fragment scrolling to the quote
    page: int | None = None  # 1-based page of ``start`` in a paged (PDF) source

    def __post_init__(self) -> None:
        if len(self.quote) != self.end - self.start or self.start < 0:
            raise ValueError("Evidence.quote must be document_text[start:end]")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError("Evidence.score must be in [0, 1]")
        if self.url is not None and safe_url(self.url) != self.url:
            raise ValueError("Evidence.url must be an http(s) link")

    def to_dict(self) -> dict:
        d = {"source": self.source, "title": self.title, "start": self.start, "end": self.end,
             "quote": self.quote, "score": round(self.score, 4)}
        return {**d, **link_fields(self.url, self.page)}


@dataclass(frozen=True)
class Verdict:
    """The result of :meth:`Pipeline.check`; ``to_dict()`` is one ``qa check --json`` object."""

    claim: str
    verdict: str
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    mismatches: tuple[Mismatch, ...] = ()
    explain: dict = field(default_factory=dict, compare=False, hash=False)
    related: tuple[Evidence, ...] = ()  # not_found only: the closest passages, where to look

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must be in [0, 1]")
        if bool(self.evidence) == (self.verdict == NOT_FOUND):
            raise ValueError("evidence is empty exactly when the verdict is not_found")
        if bool(self.mismatches) != (self.verdict == CONTRADICTED):
            raise ValueError("a contradicted verdict has mismatches and only it has")
        if self.related and self.verdict != NOT_FOUND:
            raise ValueError("only a not_found verdict has related passages")
        for m in self.mismatches:
            if self.claim[m.claim_start:m.claim_end] != m.claim_text:
                raise ValueError("Mismatch.claim_text must be claim[claim_start:claim_end]")
            first = self.evidence[0]
            if not (m.source == first.source and first.start <= m.evidence_start < m.evidence_end <= first.end):
                raise ValueError("a mismatch must lie inside the first evidence quote")

    def to_dict(self) -> dict:
        return {"claim": self.claim, "verdict": self.verdict, "confidence": round(self.confidence, 4),
                "evidence": [e.to_dict() for e in self.evidence],
                "mismatches": [m.to_dict() for m in self.mismatches],
                **({"related": [e.to_dict() for e in self.related]} if self.verdict == NOT_FOUND else {})}
