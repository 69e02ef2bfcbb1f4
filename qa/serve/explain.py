"""The chat's "Explain" panel: in words, why this sentence won or what was missing; the numbers a click away.

Everything here is read from what :meth:`Pipeline.ask` already returns: the question, the retrieved
passages and ``Answer.explain`` (the best sentences with their ranking features, the calibration
features, the question type, the threshold). The words it uses are the question's own: its content
words, adjacent ones of a kind kept together ("South Korea", "first president"), are looked up in the winning
sentence, the retrieved passages and (when the caller can say) the whole corpus.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from qa.text.markup import percent
from qa.text.types import DATE, NUMBER, PERSON, PLACE
from qa.text.words import tokenize
from qa.serve.render import esc

WANTED = {DATE: "date", NUMBER: "number", PERSON: "name", PLACE: "place"}
_WORD = re.compile(r"(?<![\w-])-{0,2}\w+(?:[’'.-]\w+)*")  # a command-line option keeps its dashes: "-s"


def key_phrases(question: str) -> list[tuple[str, frozenset[str]]]:
    """The question's content words as written, each with its stems; adjacent words of one kind are kept
    together: names ("South Korea") and lower-case runs ("first president"), not "Japan export"."""
    phrases: list[tuple[str, frozenset[str]]] = []
    start = end = -1
    stems: set[str] = set()
    kind = None
    for m in _WORD.finditer(question):
        toks = tokenize(m.group())
        this = m.group()[0].isupper() or m.group()[0].isdigit()
        if toks and start >= 0 and this == kind and not question[end:m.start()].strip():
            end = m.end()
            stems.update(toks)
            continue
        if start >= 0:
            phrases.append((question[start:end], frozenset(stems)))
            start = -1
        if toks:
            start, end, stems, kind = m.start(), m.end(), set(toks), this
    if start >= 0:
        phrases.append((question[start:end], frozenset(stems)))
    return phrases


def quoted(phrases: Iterable[str], joiner: str = "and") -> str:
    """“a”, “b” and “c” (escaped)."""
    items = [f"“{esc(p)}”" for p in phrases]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {joiner} " + items[-1]


def _said(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def explain_html(answer, text_of: Callable[[str], str], title_of: Callable[[str], str],
                 in_corpus: Callable[[str], bool] | None = None) -> str:
    """Why the answer won (or what an abstention lacked) in words, then the scores in a closed ``<details>``.

    ``in_corpus(stem)`` says whether any document holds a word stem; without it, only the retrieved
    passages are searched for the question's words.
    """
    ex = answer.explain or {}
    rows = ex.get("top_sentences") or []
    phrases = key_phrases(answer.question)
    best = rows[0] if rows else None
    if answer.citations:  # the sentence the answer was taken from (the reader may prefer another than the ranker)
        c = answer.citations[0]
        best = next((r for r in rows if r["source"] == c.source and c.start <= r["start"] < c.end), best)
    best_text = text_of(best["source"])[best["start"]:best["end"]] if best else ""
    best_tokens = set(tokenize(best_text))
    parts = ['<div class="qa-explain">']
    why = (ex.get("conversation") or {}).get("why") or []
    if why:
        parts.append(f'<p><strong>Understood as:</strong> {esc(answer.standalone_question)} ({esc("; ".join(why))})</p>')
    if answer.abstained:
        parts.append(f'<p class="qa-why"><strong>Why no answer:</strong> '
                     f'{_missing(answer, phrases, best, best_tokens, ex, in_corpus)}.</p>')
        parts.append(f'<p>Confidence {percent(answer.confidence)}, below the {percent(ex.get("threshold", 0))} '
                     f'needed to answer.</p>')
        if best:
            parts.append(f'<p class="qa-note">The closest sentence: “{esc(best_text)}” ({esc(title_of(best["source"]))})</p>')
    else:
        parts.append(f'<p class="qa-why"><strong>Why this sentence:</strong> '
                     f'{_won(phrases, best, best_tokens, rows, ex, text_of)}.</p>')
        parts.append(f'<p>Confidence {percent(answer.confidence)}; answers need at least '
                     f'{percent(ex.get("threshold", 0))}.</p>')
    parts.append(_numbers(ex, rows, text_of, title_of))
    parts.append("</div>")
    return "".join(parts)


def _missing(answer, phrases, best, best_tokens, ex, in_corpus) -> str:
    """What an abstention lacked, in words (the first that applies)."""
    if not phrases:
        return "the question has no word to look for"
    if in_corpus is not None:
        never = [p for p, stems in phrases if not all(map(in_corpus, stems))]
        if never:
            return f"no document mentions {quoted(never, 'or')}"
    found: set[str] = set()
    for p in answer.passages:
        found.update(tokenize(p.text))
    absent = [p for p, stems in phrases if not stems <= found]
    if absent:
        return f"no passage found mentions {quoted(absent, 'or')}"
    qtype = ex.get("question_type")
    if best and qtype in WANTED and best["features"].get("type_match", 1.0) < 1.0:
        return f"the question asks for a {WANTED[qtype]}, and the closest sentences hold none"
    windows = ex.get("windows") or []
    if windows:
        n = len(windows)
        return ("the reader model read " + ("the passage around the closest sentence" if n == 1 else
                f"the passages around the {n} closest sentences") + " and found no words there that answer it")
    lacking = [p for p, stems in phrases if not stems <= best_tokens]
    if best and lacking:
        return (f"the passages mention every word of the question, but not together: the closest sentence "
                f"lacks {quoted(lacking)}")
    return "the closest sentence mentions the question's words but is not close enough in meaning to answer it"


def _won(phrases, best, best_tokens, rows, ex, text_of) -> str:
    """Why the best sentence won, in words."""
    if not best:
        return "it was the only candidate"
    f = best.get("features", {})
    reasons = []
    held = [p for p, stems in phrases if stems <= best_tokens]
    lacking = [p for p, stems in phrases if not stems <= best_tokens]
    if held:
        reasons.append(f"it mentions {quoted(held)}" + (f" (not {quoted(lacking, 'or')})" if lacking else ""))
    if f.get("dense_gap", -1.0) >= -1e-6:
        reasons.append("it is the closest in meaning to the question of all the candidate sentences")
    qtype = ex.get("question_type")
    if qtype in WANTED and f.get("type_match", 0.0) >= 1.0:
        reasons.append(f"it holds a {WANTED[qtype]}, as the question asks")
    windows = ex.get("windows") or []
    if windows:
        n = len(windows)
        reasons.append("the reader model, reading " + ("the passage around it" if n == 1 else
                       f"the passages around the {n} closest sentences") + ", marked the answer there")
    if not reasons:
        reasons.append("it scored best on the ranker's features together")
    calib = ex.get("calibration") or {}
    margin = calib.get("ranker_margin", calib.get("margin", 0.0))
    said = _said(reasons)
    if len(rows) > 1:
        nxt = rows[1]
        how = "well ahead of" if margin > 1.0 else "ahead of" if margin > 0.3 else "only just ahead of"
        said += f"; it scored {how} the next best sentence, “{esc(_cut(text_of(nxt['source'])[nxt['start']:nxt['end']]))}”"
    return said


def _cut(text: str, limit: int = 160) -> str:
    """``text``, or its first words up to ``limit`` characters and an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit] + "…"


def _numbers(ex: dict, rows: list[dict], text_of, title_of) -> str:
    """The ranker's scores and features per sentence and the calibration features, in a closed ``<details>``."""
    parts = ['<details class="qa-numbers"><summary>The scores behind this</summary>',
             f'<p class="qa-score">question type: {esc(ex.get("question_type") or "any sentence")}; '
             f'threshold {percent(ex.get("threshold", 0))}</p>']
    if rows:
        parts.append("<table><thead><tr><th>#</th><th>score</th><th>sentence</th><th>features</th></tr></thead><tbody>")
        for n, r in enumerate(rows, 1):
            text = text_of(r["source"])
            feats = ", ".join(f"{k} {v:.2f}" for k, v in r.get("features", {}).items())
            parts.append(f'<tr><td>{n}</td><td class="qa-score">{r["score"]:.2f}</td>'
                         f'<td>{esc(text[r["start"]:r["end"]])}<br><span class="qa-note">{esc(title_of(r["source"]))}'
                         f'</span></td><td class="qa-score">{esc(feats)}</td></tr>')
        parts.append("</tbody></table>")
    calib = ex.get("calibration") or {}
    if calib:
        parts.append('<p class="qa-score">calibration: ' + esc(", ".join(f"{k} {v:.3f}" for k, v in calib.items()))
                     + "</p>")
    parts.append("</details>")
    return "".join(parts)
