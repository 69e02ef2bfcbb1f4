"""The shipped claim verifier: it loads through ONNX Runtime like the other models, and ONNX equals torch."""

from __future__ import annotations

import numpy as np
import pytest

from qa.models.verifier import LABELS, VERIFIER_FILE, load_onnx, load_torch, shared

pytestmark = pytest.mark.skipif(not VERIFIER_FILE.is_file(), reason="no trained verifier shipped")

PAIRS = ("Japan exported $51.1 billion to South Korea in 2021.",
         ["Japan exported $51.1 billion to South Korea in 2021.", "The armistice was signed in 1953."])


def test_the_verifier_gives_three_probabilities_per_passage_and_onnx_equals_torch():
    onnx = load_onnx()
    torch_ = load_torch()
    a = torch_.probabilities(*PAIRS)
    assert a.shape == (2, len(LABELS)) and np.allclose(a.sum(axis=1), 1.0, atol=1e-5)
    if onnx is not None:
        assert np.abs(onnx.probabilities(*PAIRS) - a).max() < 1e-4
    assert torch_.probabilities(PAIRS[0], []).shape == (0, len(LABELS))


def test_the_verifier_is_loaded_once_per_runtime():
    assert shared(runtime="onnx") is shared(runtime="onnx")
