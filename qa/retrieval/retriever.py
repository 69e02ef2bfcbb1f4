"""Question -> ranked passages and candidate sentences (dense + BM25, fused).

Two retrievers propose candidates: nearest sentence vectors (dense) and BM25
over chunks and sentences (lexical), both asked of the :class:`~qa.index.interface.Store`
(FAISS and bm25s by default, Milvus as the other backend). Every candidate chunk then gets a
fused score from normalised signals, and every sentence inside the best
chunks gets a feature vector that :mod:`qa.answer.answerer` turns into the answer.
The question is embedded once, by the caller, and reused everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.text.types import question_type, type_match
from qa.text.words import tokenize
from qa.index.faiss_store import as_store
from qa.index.interface import CHUNKS, SENTENCES, Store
from qa.index.store import Index

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


TOKEN_CACHE = 200_000  # sentences whose tokens are kept between questions


class Retriever:
    """Scores chunks and sentences of one :class:`Store` (or a loaded :class:`Index`)."""

    def __init__(self, index: Store | Index, dense_weight: float = 0.5, candidates: int = 50,
                 sentence_weight: float = 0.5):
        self.store = as_store(index)
        self.dense_weight = dense_weight
        self.candidates = candidates
        self.sentence_weight = sentence_weight
        self._tokens: dict[int, tuple[str, ...]] = {}
        self._pairs: dict[int, frozenset[tuple[str, str]]] = {}

    def dense_sentences(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k sentence ids by cosine similarity."""
        return self.store.dense_sentences(qvec, k)

    def retrieve(self, question: str, qvec: np.ndarray, top_k: int = 5, favour: Favour | None = None) -> Retrieval:
        """Passages and candidate sentences for ``question``; ``favour`` (a follow-up's) raises some passages."""
        st = self.store
        qtokens = tokenize(question)
        qtype = question_type(question)
        if st.counts()["chunks"] == 0:
            return Retrieval(question, qtype, (), np.zeros(0, np.int64), np.zeros(0, np.int64),
                             np.zeros((0, len(FEATURES)), np.float32))

        lex_chunk = st.lexical(qtokens, CHUNKS)
        lex_sent = st.lexical(qtokens, SENTENCES)

        k = self.candidates
        dense_rows, _ = st.dense_sentences(qvec, 2 * k)
        lex_top = lex_sent.top(k)[0]
        owners = st.sentences(np.concatenate([dense_rows, lex_top])).chunk
        cand = np.unique(np.concatenate([lex_chunk.top(k)[0], owners]))
        if favour is not None:
            cand = np.union1d(cand, np.asarray(favour.chunks, dtype=cand.dtype))

        # Sentence ids of all candidate chunks, scored in one matrix product.
        members = st.chunk_sentences(cand)
        lengths = np.array([len(m) for m in members], dtype=np.int64)
        rows = np.concatenate(members).astype(np.int64)
        owner = np.repeat(np.arange(len(cand)), lengths)
        dense = st.sentence_vectors(rows) @ qvec
        starts = np.r_[0, np.cumsum(lengths)[:-1]]
        best_dense = np.maximum.reduceat(dense, starts)
        lex_rows = lex_sent.normalised(rows)
        best_lex = np.maximum.reduceat(lex_rows, starts)
        chunk_dense = st.chunk_vectors(cand) @ qvec
        lex_cand = lex_chunk.normalised(cand)
        crow = st.chunks(cand)

        w = self.dense_weight
        sw = self.sentence_weight
        chunk_score = (w * ((1 - sw) * chunk_dense + sw * best_dense)
                       + (1 - w) * ((1 - sw) * lex_cand + sw * best_lex))
        if favour is not None:
            chunk_score = chunk_score + favour.bonus(cand, crow.doc)

        order = np.argsort(-chunk_score, kind="stable")
        passages, seen = [], []
        for i in order:
            c = int(cand[i])
            s, e = (int(x) for x in crow.span[i])
            d = int(crow.doc[i])
            # Overlapping chunks mostly repeat each other: keep the better one only.
            if any(d == sd and min(e, se) - max(s, ss) > 0.5 * (e - s) for sd, ss, se in seen):
                continue
            seen.append((d, s, e))
            doc = st.document(d)
            passages.append(Passage(row=c, source=doc.id, title=doc.title, start=s, end=e,
                                    text=doc.text[s:e], score=float(chunk_score[i]),
                                    dense=float(chunk_dense[i]), lexical=float(lex_cand[i]),
                                    page=doc.page(s)))
            if len(passages) >= max(top_k, 1):
                break

        # Candidate sentences: those of the kept passages.
        cand_pos = {int(c): i for i, c in enumerate(cand)}
        sel = np.concatenate([np.nonzero(owner == cand_pos[p.row])[0] for p in passages])
        srows = rows[sel]
        sown = owner[sel]
        prev, nxt = st.neighbours(srows)
        neigh = np.maximum(self._neighbour_dense(prev, qvec), self._neighbour_dense(nxt, qvec))
        coverage, idf_cov, ctx_cov, chunk_cov, bigram, missing = self._overlap(
            qtokens, srows, cand[sown], prev, nxt, {int(cand[o]): members[o] for o in np.unique(sown)})
        texts = st.sentence_texts(srows.tolist())
        tmatch = np.array([type_match(qtype, question, t) for t in texts], dtype=np.float32)
        spans = st.sentences(srows).span
        short = ((spans[:, 1] - spans[:, 0]) < 40).astype(np.float32)
        sdense = dense[sel]
        columns = dict(dense=sdense, dense_gap=sdense - sdense.max(), lexical=lex_rows[sel],
                       chunk_dense=chunk_dense[sown], chunk_lexical=lex_cand[sown],
                       chunk_best_dense=best_dense[sown], neighbour_dense=neigh, coverage=coverage,
                       type_match=tmatch, short=short, idf_coverage=idf_cov,
                       context_coverage=ctx_cov, chunk_coverage=chunk_cov, bigram=bigram, missing_rare=missing)
        feats = np.column_stack([columns[name] for name in FEATURES]).astype(np.float32)
        return Retrieval(question, qtype, tuple(passages), srows, cand[sown].astype(np.int64), feats)

    def _neighbour_dense(self, neighbours: np.ndarray, qvec: np.ndarray) -> np.ndarray:
        """Cosine of each neighbour sentence with the question; 0 where there is no neighbour."""
        out = np.zeros(len(neighbours), dtype=np.float32)
        has = neighbours >= 0
        if has.any():
            out[has] = self.store.sentence_vectors(neighbours[has]) @ qvec
        return out

    def _sentence_tokens(self, row: int) -> tuple[str, ...]:
        """Tokens of one sentence, in order, computed on first use and kept (sentences never change)."""
        toks = self._tokens.get(row)
        if toks is None:
            self._fetch_tokens([row])
            toks = self._tokens[row]
        return toks

    def _fetch_tokens(self, rows) -> None:
        """Tokenize the sentences of ``rows`` not seen yet, their texts fetched in one call."""
        if len(self._tokens) > TOKEN_CACHE:  # bounded: a long-running server may see every sentence
            self._tokens.clear()
            self._pairs.clear()
        missing = [r for r in dict.fromkeys(rows) if r not in self._tokens]
        if not missing:
            return
        for r, text in zip(missing, self.store.sentence_texts(missing)):
            self._tokens[r] = tuple(tokenize(text))

    def _sentence_pairs(self, row: int) -> frozenset[tuple[str, str]]:
        pairs = self._pairs.get(row)
        if pairs is None:
            pairs = self._pairs[row] = _ordered_pairs(self._sentence_tokens(row), 3)
        return pairs

    def _overlap(self, qtokens: list[str], rows: np.ndarray, chunks: np.ndarray, prev: np.ndarray,
                 nxt: np.ndarray, members: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Word-overlap features of each candidate sentence with the question.

        coverage: share of the question's distinct content words in the sentence;
        idf_coverage: the same weighted by rarity (a rare word matched counts more than "Japan");
        context_coverage: idf coverage by the sentence with its neighbours;
        chunk_coverage: idf coverage by the whole passage;
        bigram: share of the question's ordered word pairs that the sentence keeps in order;
        missing_rare: idf of the rarest question word absent from the sentence and its neighbours,
        relative to the rarest question word (1: the most specific word is missing).
        ``prev``/``nxt``: each row's neighbours (-1: none); ``members``: each chunk's sentence ids.
        """
        n = len(rows)
        q = list(dict.fromkeys(qtokens))
        if not q:
            return tuple(np.zeros(n, dtype=np.float32) for _ in range(6))
        needed = rows.tolist() + [int(x) for x in np.concatenate([prev, nxt]) if x >= 0]
        self._fetch_tokens(needed + [int(x) for c in chunks.tolist() for x in members[c]])
        weight = dict(zip(q, self.store.idf(q, SENTENCES).tolist()))
        total = sum(weight.values()) or 1.0
        rarest = max(weight.values()) or 1.0
        qset = set(q)
        qpairs = _ordered_pairs(qtokens, 2)
        chunk_terms: dict[int, set[str]] = {}
        out = np.zeros((6, n), dtype=np.float32)
        for i, (r, c) in enumerate(zip(rows.tolist(), chunks.tolist())):
            terms = qset.intersection(self._sentence_tokens(r))
            ctx = set(terms)
            for nb in (prev[i], nxt[i]):
                if nb >= 0:
                    ctx |= qset.intersection(self._sentence_tokens(int(nb)))
            if c not in chunk_terms:
                chunk_terms[c] = {t for j in members[c].tolist() for t in qset.intersection(self._sentence_tokens(j))}
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
