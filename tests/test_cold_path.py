"""`qa ask` starts fast: it never imports the web stack or sentence-transformers, and `import qa` is light."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["gradio", "fastapi", "uvicorn", "starlette", "sentence_transformers", "sklearn", "pandas"]

PROBE = r"""
import json, sys
from qa.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _probe(*argv: str) -> dict:
    from qa.models.runtime import cache_dir

    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(ROOT),
                                         "QA_CACHE_DIR": str(cache_dir())})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_qa_loads_no_stage_until_a_name_is_used():
    code = ("import sys, qa; before = {m for m in sys.modules if m.startswith('qa.') or m in ('numpy', 'torch')}; "
            "from qa import Pipeline, Answer, load_config, QAError; print(sorted(before), Pipeline.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] qa.pipeline"


def test_unknown_name_is_an_attribute_error():
    import qa

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        qa.nope  # noqa: B018


def test_usage_error_exits_before_loading_numpy(tmp_path):
    res = _probe("--config", str(tmp_path / "qa.yaml"), "ask", "   ")
    assert res["code"] == 2
    assert "numpy" not in res["modules"] and "torch" not in res["modules"]


@pytest.mark.slow
def test_qa_ask_with_the_real_model_imports_no_web_stack(real_seed_pipeline, tmp_path):
    real_seed_pipeline.warm_up()  # the model and the reader are exported to ONNX (if they were not already)
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {real_seed_pipeline.config.corpus}\nindex: {real_seed_pipeline.config.index}\n")
    res = _probe("--config", str(cfg), "ask", "When did Japan colonize Korea?")
    assert res["code"] == 0
    assert "onnxruntime" in res["modules"]  # the model really ran
    # With the graphs exported, neither torch nor transformers is imported to answer.
    assert [m for m in HEAVY + ["torch", "transformers"] if m in res["modules"]] == []
