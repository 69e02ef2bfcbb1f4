"""The ranker and calibrator weights (qa/data/ranker.json) meet their features by name, and a file
fitted for other features is an error that says how to refit, never a silent fallback."""

from __future__ import annotations

import json

import pytest

from qa.answer.answerer import CALIBRATION_FEATURES, WEIGHTS_FILE, AnswerModel
from qa.retrieval.retriever import FEATURES


def test_the_shipped_weights_fit_the_features_computed_now():
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    model = AnswerModel.load()
    assert model != AnswerModel.default()
    for name, w in zip(data["features"], data["ranker"]):
        assert model.ranker[FEATURES.index(name)] == w
    for name, w in zip(data["calibration_features"], data["calibration"]):
        assert model.calibration[CALIBRATION_FEATURES.index(name)] == w


def test_weights_are_matched_by_name_not_position(tmp_path):
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    for names, weights in (("features", "ranker"), ("calibration_features", "calibration")):
        data[names], data[weights] = data[names][::-1], data[weights][::-1]
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert AnswerModel.load(path) == AnswerModel.load()


@pytest.mark.parametrize("key", ["features", "calibration_features"])
def test_a_file_fitted_for_other_features_is_an_error_that_says_how_to_refit(tmp_path, key):
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    data[key] = ["renamed_" + data[key][0]] + data[key][1:]
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"missing \['\w+'\], unknown \['renamed_\w+'\]\): "
                                         r"refit it with `python bench/train_ranker.py`"):
        AnswerModel.load(path)


def test_without_a_weights_file_the_hand_set_weights_serve(tmp_path):
    assert AnswerModel.load(tmp_path / "missing.json") == AnswerModel.default()
