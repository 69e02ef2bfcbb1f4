"""The one vocabulary of quantities: units, currencies and scales, shared by the answer types
(:mod:`qa.text.types`: what a "how far" or "how much" question wants) and the claim details
(:mod:`qa.text.details`: what "$51.1 billion" or "55 km" is, to compare it).

Each unit word maps to a canonical unit (so "kilometres" and "km" compare equal) and to the kind of
quantity it measures (so "how far" wants a DISTANCE, never a DURATION).
"""

from __future__ import annotations

MONEY, PERCENT, DISTANCE, DURATION, MASS, COUNT = "MONEY", "PERCENT", "DISTANCE", "DURATION", "MASS", "COUNT"

CURRENCY_SIGNS = "$€£¥₩"
SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}

# unit words (comma-separated) -> (canonical unit, kind of quantity)
_TABLE = (
    ("km, kilometers, kilometres, kilometer, kilometre", "km", DISTANCE),
    ("miles, mile", "mi", DISTANCE),
    ("meters, metres, meter, metre", "m", DISTANCE),
    ("feet, foot, ft", "ft", DISTANCE),
    ("kg, kilograms, kilogram", "kg", MASS),
    ("tons, ton, tonnes, tonne", "t", MASS),
    ("years, year", "year", DURATION),
    ("months, month", "month", DURATION),
    ("weeks, week", "week", DURATION),
    ("days, day", "day", DURATION),
    ("hours, hour", "hour", DURATION),
    ("minutes, minute", "minute", DURATION),
    ("seconds, second", "second", DURATION),
    ("decades, decade", "decade", DURATION),
    ("centuries, century", "century", DURATION),
    ("times", "times", COUNT),
    ("dollars, dollar", "$", MONEY),
    ("yen", "¥", MONEY),
    ("won", "₩", MONEY),
    ("euros, euro", "€", MONEY),
    ("pounds, pound", "£", MONEY),
    ("percent, per cent", "%", PERCENT),
    ("percentage points, percentage point", "pp", PERCENT),
)
UNITS: dict[str, tuple[str, str]] = {w.strip(): (canon, kind) for words, canon, kind in _TABLE for w in words.split(",")}


def unit_pattern(kinds: tuple[str, ...] | None = None) -> str:
    """A regex alternation of the unit words (longest first), of the given kinds only when given."""
    words = [w for w, (_, k) in UNITS.items() if kinds is None or k in kinds]
    return "|".join(sorted((w.replace(" ", r"\s+") for w in words), key=len, reverse=True))
