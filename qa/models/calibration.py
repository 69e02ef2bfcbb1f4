"""Turning model scores into probabilities that can be read as confidence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence


def sigmoid(x: float) -> float:
    """The logistic function; a NaN score (which would otherwise read as certainty) gives 0."""
    if math.isnan(x):
        return 0.0
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def check_names(names: Sequence[str], wanted: Sequence[str], path, refit: str) -> None:
    """A weights file must name exactly the features computed today: one fitted for another version of
    them would score with the wrong columns, and falling back to hand-set weights would hide that, so
    it is an error that says how to refit."""
    if len(names) != len(set(names)) or set(names) != set(wanted):
        missing, extra = sorted(set(wanted) - set(names)), sorted(set(names) - set(wanted))
        raise ValueError(f"{path} does not fit the features computed now (missing {missing}, unknown {extra}): "
                         f"refit it with `python {refit}`")


def weights_by_name(names: Sequence[str], weights: Sequence[float], wanted: Sequence[str], path,
                    refit: str) -> tuple[float, ...]:
    """``weights`` (fitted for the features ``names``) in the order of ``wanted`` (see :func:`check_names`)."""
    check_names(names, wanted, path, refit)
    if len(weights) != len(names):
        raise ValueError(f"{path} holds {len(weights)} weights for {len(names)} features: refit it with `python {refit}`")
    by_name = dict(zip(names, weights))
    return tuple(float(by_name[n]) for n in wanted)


@dataclass(frozen=True)
class Calibration:
    """A logistic model from named features to a confidence: ``sigmoid(bias + sum(w_f * x_f))``, plus the
    settings it was fitted with (how many windows a reader reads, and when)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    settings: dict[str, float] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.features) != len(self.weights):
            raise ValueError("Calibration needs one weight per feature")

    def logit(self, values: Mapping[str, float]) -> float:
        return self.bias + sum(w * float(values[f]) for f, w in zip(self.features, self.weights))

    def confidence(self, values: Mapping[str, float]) -> float:
        return sigmoid(self.logit(values))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights": list(self.weights), "bias": self.bias,
                "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Calibration":
        return cls(tuple(data["features"]), tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   {k: float(v) for k, v in (data.get("settings") or {}).items()})
