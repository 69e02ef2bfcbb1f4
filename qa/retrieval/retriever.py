"""Question -> ranked passages and candidate sentences (dense + BM25, fused).

Two retrievers propose candidates: FAISS over sentence vectors (dense) and
bm25s over chunks and sentences (lexical). Every candidate chunk then gets a
fused score from normalised signals, and every sentence inside the best
chunks gets a feature vector that :mod:`qa.answer.answerer` turns into the answer.
The question is embedded once, by the caller, and reused everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.text.types import question_type, type_match
from qa.text.words import tokenize
from qa.index.store import Index
from qa.index.vectors import search as vector_search

# Names of the per-sentence features, in column order of ``Retrieval.features``; weights files name
# them too, so a weight always meets its own feature.
FEATURES = ("dense", "dense_gap", "lexical", "chunk_dense", "chunk_lexical", "chunk_best_dense",
            "neighbour_dense", "coverage", "type_match", "short", "idf_coverage", "context_coverage",
            "chunk_coverage", "bigram", "missing_rare")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, with offsets into its document."""

    row: int
    source: str
    title: str
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float
    page: int | None = None  # 1-based page of ``start`` in a paged (PDF) source

    def to_dict(self) -> dict:
        d = {"source": self.source, "title": self.title, "start": self.start, "end": self.end,
             "text": self.text, "score": round(self.score, 4),
             "dense": round(self.dense, 4), "lexical": round(self.lexical, 4)}
        if self.page is not None:
            d["page"] = self.page
        return d


@dataclass(frozen=True)
class Retrieval:
    """Everything retrieval learned about one question, for the answer stage."""

    question: str
    qtype: str | None
    passages: tuple[Passage, ...]      # best first, de-duplicated
    sentence_rows: np.ndarray          # candidate sentence rows
    sentence_chunk: np.ndarray         # the passage row each candidate sentence was scored in
    features: np.ndarray               # (n, len(FEATURES))


@dataclass(frozen=True)
class Favour:
    """Passages a follow-up question leans towards: those the earlier answer came from, and its document.

    Their fused scores get a bonus (they are always scored, even when no retriever proposed them);
    every other passage competes as usual, so a better one still wins.
    """

    chunks: tuple[int, ...] = ()    # chunk rows
    docs: tuple[int, ...] = ()      # document positions
    chunk_bonus: float = 0.15
    doc_bonus: float = 0.05

    def bonus(self, chunks: np.ndarray, docs: np.ndarray) -> np.ndarray:
        return (self.chunk_bonus * np.isin(chunks, self.chunks) + self.doc_bonus * np.isin(docs, self.docs)).astype(
            np.float32)


def _norm_max(x: np.ndarray) -> np.ndarray:
    m = float(x.max()) if len(x) else 0.0
    return x / m if m > 0 else np.zeros_like(x)


def _top(x: np.ndarray, k: int) -> np.ndarray:
    if len(x) <= k:
        return np.argsort(-x, kind="stable")
    part = np.argpartition(-x, k)[:k]
    return part[np.argsort(-x[part], kind="stable")]


class Retriever:
    """Scores chunks and sentences of one loaded :class:`Index`."""

    def __init__(self, index: Index, dense_weight: float = 0.5, candidates: int = 50,
                 sentence_weight: float = 0.5):
        self.index = index
        self.dense_weight = dense_weight
        self.candidates = candidates
        self.sentence_weight = sentence_weight
        idx = index
        # Each sentence's neighbours within its document (-1 at the edges), for context features.
        same_prev = np.r_[False, idx.sent_doc[1:] == idx.sent_doc[:-1]]
        self._prev = np.where(same_prev, np.arange(len(idx.sent_doc)) - 1, -1)
        same_next = np.r_[idx.sent_doc[:-1] == idx.sent_doc[1:], False]
        self._next = np.where(same_next, np.arange(len(idx.sent_doc)) + 1, -1)
        lens = idx.sent_span[:, 1] - idx.sent_span[:, 0]
        self._short = (lens < 40).astype(np.float32)
        self._tokens: dict[int, tuple[str, ...]] = {}
        self._pairs: dict[int, frozenset[tuple[str, str]]] = {}

    def dense_sentences(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k sentence rows by cosine similarity, via FAISS."""
        n = self.index.faiss_index.ntotal
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = vector_search(self.index.faiss_index, qvec, min(k, n))
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def retrieve(self, question: str, qvec: np.ndarray, top_k: int = 5, favour: Favour | None = None) -> Retrieval:
        """Passages and candidate sentences for ``question``; ``favour`` (a follow-up's) raises some passages."""
        idx = self.index
        qtokens = tokenize(question)
        qtype = question_type(question)
        n_chunks = len(idx.chunk_ids)
        if n_chunks == 0:
            return Retrieval(question, qtype, (), np.zeros(0, np.int64), np.zeros(0, np.int64),
                             np.zeros((0, len(FEATURES)), np.float32))

        lex_chunk = _norm_max(idx.bm25_chunks.scores(qtokens)) if qtokens else np.zeros(n_chunks, np.float32)
        raw_sent = idx.bm25_sentences.scores(qtokens) if qtokens else np.zeros(len(idx.sent_doc), np.float32)
        lex_sent = _norm_max(raw_sent)

        k = self.candidates
        dense_rows, _ = self.dense_sentences(qvec, 2 * k)
        cand = np.unique(np.concatenate([
            _top(lex_chunk, k), idx.sent_chunk[dense_rows], idx.sent_chunk[_top(lex_sent, k)]]))
        if favour is not None:
            cand = np.union1d(cand, np.asarray(favour.chunks, dtype=cand.dtype))

        # Sentence rows of all candidate chunks, scored in one matrix product.
        ranges = idx.chunk_sents[cand]
        lengths = ranges[:, 1] - ranges[:, 0]
        rows = np.concatenate([np.arange(a, b) for a, b in ranges])
        owner = np.repeat(np.arange(len(cand)), lengths)
        dense = idx.vectors[rows] @ qvec
        starts = np.r_[0, np.cumsum(lengths)[:-1]]
        best_dense = np.maximum.reduceat(dense, starts)
        best_lex = np.maximum.reduceat(lex_sent[rows], starts)
        chunk_dense = idx.chunk_vectors[cand] @ qvec

        w = self.dense_weight
        sw = self.sentence_weight
        chunk_score = (w * ((1 - sw) * chunk_dense + sw * best_dense)
                       + (1 - w) * ((1 - sw) * lex_chunk[cand] + sw * best_lex))
        if favour is not None:
            chunk_score = chunk_score + favour.bonus(cand, idx.chunk_doc[cand])

        order = np.argsort(-chunk_score, kind="stable")
        passages, seen = [], []
        for i in order:
            c = int(cand[i])
            s, e = (int(x) for x in idx.chunk_span[c])
            d = int(idx.chunk_doc[c])
            # Overlapping chunks mostly repeat each other: keep the better one only.
            if any(d == sd and min(e, se) - max(s, ss) > 0.5 * (e - s) for sd, ss, se in seen):
                continue
            seen.append((d, s, e))
            passages.append(Passage(row=c, source=idx.doc_ids[d], title=idx.titles[d], start=s, end=e,
                                    text=idx.texts[d][s:e], score=float(chunk_score[i]),
                                    dense=float(chunk_dense[i]), lexical=float(lex_chunk[c]),
                                    page=idx.page(d, s)))
            if len(passages) >= max(top_k, 1):
                break

        # Candidate sentences: those of the kept passages.
        cand_pos = {int(c): i for i, c in enumerate(cand)}
        sel = np.concatenate([np.nonzero(owner == cand_pos[p.row])[0] for p in passages])
        srows = rows[sel]
        sown = owner[sel]
        neigh = np.maximum(self._neighbour_dense(self._prev[srows], qvec),
                           self._neighbour_dense(self._next[srows], qvec))
        coverage, idf_cov, ctx_cov, chunk_cov, bigram, missing = self._overlap(qtokens, srows, cand[sown])
        tmatch = np.array([type_match(qtype, question, idx.sentence_text(int(r))) for r in srows], dtype=np.float32)
        sdense = dense[sel]
        columns = dict(dense=sdense, dense_gap=sdense - sdense.max(), lexical=lex_sent[srows],
                       chunk_dense=chunk_dense[sown], chunk_lexical=lex_chunk[cand[sown]],
                       chunk_best_dense=best_dense[sown], neighbour_dense=neigh, coverage=coverage,
                       type_match=tmatch, short=self._short[srows], idf_coverage=idf_cov,
                       context_coverage=ctx_cov, chunk_coverage=chunk_cov, bigram=bigram, missing_rare=missing)
        feats = np.column_stack([columns[name] for name in FEATURES]).astype(np.float32)
        return Retrieval(question, qtype, tuple(passages), srows, cand[sown].astype(np.int64), feats)

    def _neighbour_dense(self, neighbours: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Cosine of each neighbour sentence row with the question; 0 where there is no neighbour."""
        out = np.zeros(len(neighbours), dtype=np.float32)
        has = neighbours >= 0
        if has.any():
            out[has] = self.index.vectors[neighbours[has]] @ qvec
        return out

    def _sentence_tokens(self, row: int) -> tuple[str, ...]:
        """Tokens of one sentence, in order, computed on first use and kept (sentences never change)."""
        toks = self._tokens.get(row)
        if toks is None:
            toks = self._tokens[row] = tuple(tokenize(self.index.sentence_text(row)))
        return toks

    def _sentence_pairs(self, row: int) -> frozenset[tuple[str, str]]:
        pairs = self._pairs.get(row)
        if pairs is None:
            pairs = self._pairs[row] = _ordered_pairs(self._sentence_tokens(row), 3)
        return pairs

    def _overlap(self, qtokens: list[str], rows: np.ndarray, chunks: np.ndarray) -> tuple[np.ndarray, ...]:
        """Word-overlap features of each candidate sentence with the question.

        coverage: share of the question's distinct content words in the sentence;
        idf_coverage: the same weighted by rarity (a rare word matched counts more than "Japan");
        context_coverage: idf coverage by the sentence with its neighbours;
        chunk_coverage: idf coverage by the whole passage;
        bigram: share of the question's ordered word pairs that the sentence keeps in order;
        missing_rare: idf of the rarest question word absent from the sentence and its neighbours,
        relative to the rarest question word (1: the most specific word is missing).
        """
        n = len(rows)
        q = list(dict.fromkeys(qtokens))
        if not q:
            return tuple(np.zeros(n, dtype=np.float32) for _ in range(6))
        weight = dict(zip(q, self.index.bm25_sentences.idf(q).tolist()))
        total = sum(weight.values()) or 1.0
        rarest = max(weight.values()) or 1.0
        qset = set(q)
        qpairs = _ordered_pairs(qtokens, 2)
        chunk_terms: dict[int, set[str]] = {}
        out = np.zeros((6, n), dtype=np.float32)
        for i, (r, c) in enumerate(zip(rows.tolist(), chunks.tolist())):
            terms = qset.intersection(self._sentence_tokens(r))
            ctx = set(terms)
            for nb in (self._prev[r], self._next[r]):
                if nb >= 0:
                    ctx |= qset.intersection(self._sentence_tokens(int(nb)))
            if c not in chunk_terms:
                a, b = self.index.chunk_sents[c]
                chunk_terms[c] = {t for j in range(int(a), int(b)) for t in qset.intersection(self._sentence_tokens(j))}
            out[0, i] = len(terms) / len(qset)
            out[1, i] = sum(weight[t] for t in terms) / total
            out[2, i] = sum(weight[t] for t in ctx) / total
            out[3, i] = sum(weight[t] for t in chunk_terms[c]) / total
            out[4, i] = len(qpairs & self._sentence_pairs(r)) / len(qpairs) if qpairs else 0.0
            out[5, i] = max((weight[t] for t in qset - ctx), default=0.0) / rarest
        return tuple(out)


def _ordered_pairs(tokens, window: int) -> frozenset[tuple[str, str]]:
    """Ordered word pairs at most ``window`` tokens apart ("south korea export" keeps (korea, export))."""
    return frozenset((tokens[i], tokens[j]) for i in range(len(tokens))
                     for j in range(i + 1, min(len(tokens), i + 1 + window)) if tokens[i] != tokens[j])
