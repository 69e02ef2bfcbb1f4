"""The answer stage's reading of direction: "How much did South Korea export to Japan?" is not answered
by what Japan exported to South Korea.

A thin layer over :mod:`qa.text.roles`, the claim checker's reading of the same words, so that answers
and claim verdicts agree on who exported what to whom.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from qa.text.roles import question_flow, reverses_question

# Far below any ranker score: a reversed sentence is ranked last, and the answer comes from another
# sentence or, when none is close, is an abstention.
REVERSED_PENALTY = 20.0


def demote_reversed(question: str, scores: np.ndarray, sentence: Callable[[int], str]) -> np.ndarray:
    """``scores`` (one per candidate sentence) with the sentences that state the question's direction
    reversed pushed to the bottom; unchanged (the same array) when the question asks about no direction."""
    if question_flow(question) is None:
        return scores
    out = scores.copy()
    for i in range(len(scores)):
        if reverses_question(question, sentence(i)):
            out[i] -= REVERSED_PENALTY
    return out
