"""Optional API keys: with none the API, widget and chat stay public; with some, every refusal looks the same."""

from __future__ import annotations

import hashlib
import logging

import pytest
from fastapi.testclient import TestClient

from qa.errors import ConfigError
from qa.serve import keys as keys_module
from qa.serve.api import create_app
from qa.serve.keys import UNAUTHORIZED, ApiKeys, hash_key, load_keys

from .conftest import fake_pipeline

SEED = "000_c6a6f3801ffa9646.txt"
Q = {"question": "How much did Japan export to South Korea in 2021?"}
FILE_KEY, ENV_KEY = "k-file-6f1d2c9a8b7e", "k-env-0a9b8c7d6e5f"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    (tmp / "keys.txt").write_text(f"# the widget's partner\n{hash_key(FILE_KEY)}\n\n", encoding="utf-8")
    p = fake_pipeline(tmp, api_keys_file=str(tmp / "keys.txt"), metrics=True)
    with TestClient(create_app(p, environ={"QA_API_KEYS": ENV_KEY}), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    with TestClient(create_app(fake_pipeline(tmp_path_factory.mktemp("public")), environ={}),
                    raise_server_exceptions=False) as c:
        yield c


def test_a_valid_key_from_the_file_or_the_environment_is_answered(keyed):
    for key in (FILE_KEY, ENV_KEY):
        r = keyed.post("/api/ask", json=Q, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and r.json()["answer"] == "$51.1 billion"
    assert keyed.get(f"/api/sources/{SEED}", headers={"Authorization": f"bearer {ENV_KEY}"}).status_code == 200


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", f"Bearer {FILE_KEY}x", f"Bearer {FILE_KEY[:-1]}", f"Basic {FILE_KEY}",
    f"Token {ENV_KEY}", FILE_KEY, "Bearer \u00e9t\u00e9", "Bearer " + "a" * 5000, f"Bearer {hash_key(FILE_KEY)}",
], ids=["missing", "empty", "no-key", "blank-key", "longer", "shorter", "basic", "other-scheme", "no-scheme",
        "latin-1", "huge", "the-digest"])
def test_wrong_missing_and_malformed_keys_all_get_the_same_401(keyed, header):
    headers = {} if header is None else {"Authorization": header.encode("utf-8")}
    for method, path, body in (("POST", "/api/ask", Q), ("POST", "/api/check", {"claim": "x"}),
                               ("GET", f"/api/sources/{SEED}", None), ("GET", "/api/nothing", None),
                               ("GET", "/metrics", None), ("GET", f"/source/{SEED}", None)):
        r = keyed.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (path, r.text)
        assert r.json() == {"error": UNAUTHORIZED} and r.headers["www-authenticate"] == 'Bearer realm="qa"'


def test_health_and_the_widget_script_stay_open(keyed):
    assert keyed.get("/api/health").status_code == 200
    assert keyed.get("/widget.js").status_code == 200


def test_every_stored_digest_is_compared_every_time(monkeypatch):
    keys = ApiKeys(load_keys(None, {"QA_API_KEYS": "a,b,c," + hash_key("d")}))
    calls = []
    real = keys_module.hmac.compare_digest
    monkeypatch.setattr(keys_module.hmac, "compare_digest", lambda x, y: calls.append(1) or real(x, y))
    for presented in ("a", "d", "nope", ""):
        calls.clear()
        keys.valid(presented)
        assert len(calls) == 4  # no early exit: a match costs what a miss costs
    assert keys.valid("a") and keys.valid("d") and not keys.valid("sha256:" + hashlib.sha256(b"d").hexdigest())


def test_the_chat_opens_with_a_key_as_password(keyed):
    assert keyed.post("/login", data={"username": "me", "password": "wrong"}).status_code >= 400
    login = keyed.post("/login", data={"username": "me", "password": FILE_KEY})
    assert login.status_code == 200, login.text
    assert keyed.get(f"/source/{SEED}").status_code == 200  # the chat's citation links work once logged in
    assert keyed.post("/api/ask", json=Q).status_code == 401  # the API still wants the key itself
    keyed.cookies.clear()
    assert keyed.get(f"/source/{SEED}").status_code == 401


def test_keys_never_reach_the_access_log(keyed, caplog):
    with caplog.at_level(logging.INFO, logger="qa.access"):
        keyed.post("/api/ask", json=Q, headers={"Authorization": f"Bearer {FILE_KEY}"})
        keyed.post("/api/ask", json=Q, headers={"Authorization": f"Bearer {ENV_KEY}x"})
        keyed.get(f"/api/sources/{SEED}?key={ENV_KEY}", headers={"Authorization": f"Bearer {ENV_KEY}"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text.count('"route"') == 3 and FILE_KEY not in text and ENV_KEY not in text


def test_without_keys_the_api_widget_and_chat_are_public(public):
    same_origin = {"Origin": "http://testserver"}
    assert public.post("/api/ask", json=Q, headers=same_origin).status_code == 200  # the widget on the same site
    assert public.get("/").status_code == 200 and "login" not in public.get("/config").text.lower()[:2000]
    assert public.get(f"/source/{SEED}").status_code == 200


def test_a_keys_file_that_is_wrong_is_a_one_line_config_error(tmp_path):
    (tmp_path / "plain.txt").write_text("my-secret-key\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 1 is not a hashed key") as exc:
        load_keys(tmp_path / "plain.txt", {})
    assert "my-secret-key" not in str(exc.value)
    (tmp_path / "empty.txt").write_text("# none yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no key"):
        load_keys(tmp_path / "empty.txt", {})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_keys(tmp_path / "missing.txt", {})
