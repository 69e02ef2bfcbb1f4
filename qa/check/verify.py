"""The trained verifier's say in a claim check: only where the detail rules decided nothing.

The rules of :mod:`qa.check.claims` decide first and keep their veto: a unit the verifier may judge holds
every name, number, date and ordinal of the claim (none missing, none differing), in the same roles and
with the same polarity. Only when the rules found the claim ``not_found`` are the closest such units
shown to the verifier (:mod:`qa.models.verifier`, a cross-encoder over claim and sentence); a clear
``supports`` makes the claim supported, a clear ``refutes`` contradicted (the mismatch is then the whole
statement, kind ``STATEMENT``: no single detail differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

STATEMENT = "STATEMENT"


@dataclass(frozen=True)
class VerifierSettings:
    """When the verifier is asked and believed."""

    # Chosen by `python bench/claims_heldout.py sweep` on SciFact's tuning claims: below 0.9 the shipped
    # verifier's "supports" adds claims wrongly supported (0.7, refuting never: 16 more right, 12 more wrongly supported of
    # 652), so it may only refute; 0.6 is the refute threshold with the most right verdicts.
    floor: float = 0.3      # a unit must be at least this close to the claim (the checker's "about") to be judged
    units: int = 3          # closest eligible units judged
    support: float = 0.9    # P(supports) that makes a claim supported
    refute: float = 0.6     # P(refutes) that makes it contradicted

    def __post_init__(self) -> None:
        for name in ("floor", "support", "refute"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"VerifierSettings.{name} must be in [0, 1]")
        if self.units < 1:
            raise ValueError("VerifierSettings.units must be >= 1")


def judge(probabilities: Callable[[str, Sequence[str]], np.ndarray], claim: str, passages: Sequence[str],
          settings: VerifierSettings) -> tuple[str, int, float] | None:
    """``("supported" | "contradicted", index of the passage, probability)`` for the passage the verifier
    is surest of, or None when it is sure of none. ``passages``: the eligible units, closest first."""
    if not passages:
        return None
    p = probabilities(claim, list(passages))
    best_s, best_r = int(np.argmax(p[:, 0])), int(np.argmax(p[:, 1]))
    if p[best_s, 0] >= settings.support and p[best_s, 0] >= p[best_r, 1]:
        return "supported", best_s, float(p[best_s, 0])
    if p[best_r, 1] >= settings.refute:
        return "contradicted", best_r, float(p[best_r, 1])
    return None
