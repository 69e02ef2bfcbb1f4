"""Turning model scores into probabilities that can be read as confidence."""

from __future__ import annotations

import math


def sigmoid(x: float) -> float:
    """The logistic function; a NaN score (which would otherwise read as certainty) gives 0."""
    if math.isnan(x):
        return 0.0
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))
