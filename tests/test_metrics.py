"""What an operator sees: /metrics (only with metrics: true), JSON access-log lines with a request id, and
responses that match the OpenAPI schema the server publishes."""

from __future__ import annotations

import json
import logging

import jsonschema
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.serve.api import create_app

from .conftest import fake_pipeline

SEED = "000_c6a6f3801ffa9646.txt"
Q = {"question": "How much did Japan export to South Korea in 2021?"}
OFF = {"question": "What is the capital of Mars?"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("metrics"), metrics=True,
                         limits={"requests_per_minute": 600, "burst": 12})


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline, ui=False, build_seconds=1.5), raise_server_exceptions=False) as c:
        yield c


def samples(client) -> dict[tuple, float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_metrics_count_requests_latency_abstentions_and_refusals(client, pipeline):
    for body in (Q, Q, OFF):
        assert client.post("/api/ask", json=body).status_code == 200
    assert client.post("/api/check", json={"claim": "Japan is the second-largest economy in the world."}).status_code == 200
    assert client.post("/api/ask", json={"question": ""}).status_code == 400
    statuses = [client.post("/api/ask", json=Q).status_code for _ in range(12)]
    assert 429 in statuses
    m = samples(client)
    ask = lambda status: m[("qa_http_requests_total", (("method", "POST"), ("route", "/api/ask"), ("status", status)))]
    assert ask("200") == 3 + statuses.count(200) and ask("400") == 1 and ask("429") == statuses.count(429)
    assert m[("qa_rate_limited_total", ())] == statuses.count(429)
    assert m[("qa_answers_total", (("abstained", "true"),))] == 1
    assert m[("qa_answers_total", (("abstained", "false"),))] == 2 + statuses.count(200)
    assert m[("qa_request_seconds_count", (("route", "/api/check"),))] == 1
    assert m[("qa_request_seconds_bucket", (("le", "+Inf"), ("route", "/api/ask")))] >= 4
    assert m[("qa_index_documents", ())] == len(pipeline.index.doc_ids) == 3
    assert m[("qa_index_passages", ())] == len(pipeline.index.chunk_ids)
    assert m[("qa_index_bytes", ())] > 0 and m[("qa_index_build_seconds", ())] == 1.5
    assert m[("qa_busy_total", ())] == 0 and m[("qa_model_work", ())] == 0


def test_metrics_are_off_unless_asked_for(tmp_path):
    with TestClient(create_app(fake_pipeline(tmp_path), ui=False)) as c:
        assert c.get("/metrics").status_code == 404


def test_every_request_gets_an_id_and_one_json_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="qa.access"):
        given = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
        fresh = client.post("/api/ask", json=Q)
        odd = client.get("/api/health", headers={"X-Request-ID": "not ok\u00e9".encode("utf-8")})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32 and odd.headers["x-request-id"] != "not ok"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.access"]
    assert [line["id"] for line in lines] == [given.headers["x-request-id"], fresh.headers["x-request-id"],
                                             odd.headers["x-request-id"]]
    line = lines[1]
    assert set(line) == {"time", "id", "client", "method", "path", "route", "status", "seconds", "bytes"}
    assert (line["method"], line["path"], line["status"]) == ("POST", "/api/ask", fresh.status_code)
    assert line["bytes"] == len(fresh.content) and line["seconds"] >= 0


# ------------------------------------------------------------------ the published schema

@pytest.fixture(scope="module")
def openapi(client):
    return client.get("/openapi.json").json()


def validate(openapi: dict, path: str, method: str, response) -> None:
    """``response`` against what /openapi.json says ``method path`` answers with its status."""
    operation = openapi["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": openapi["components"]})


def test_responses_match_the_published_openapi_schema(pipeline, openapi):
    with TestClient(create_app(pipeline, ui=False), raise_server_exceptions=False) as c:
        for body in (Q, OFF, {**Q, "top_k": 2}, {"question": "When did it end?",
                                                 "history": [{"question": "When did the Korean War start?",
                                                              "answer": "1950"}]}):
            validate(openapi, "/api/ask", "post", c.post("/api/ask", json=body))
        for body in ({"claim": "Japan is the second-largest economy in the world. Kishida is a cat."},
                     {"quote": "the U.S. House of Representatives adopted a resolution"},
                     {"quote": "no such words anywhere at all", "source": SEED}):
            validate(openapi, "/api/check", "post", c.post("/api/check", json=body))
        validate(openapi, "/api/sources/{doc_id}", "get", c.get(f"/api/sources/{SEED}"))
        for r in (c.post("/api/ask", json={"question": "When?", "top_k": "3"}), c.post("/api/ask", content=b"{", headers={"Content-Type": "application/json"}),
                  c.post("/api/check", json={"claim": "a", "quote": "b"})):
            assert r.status_code == 400
            validate(openapi, "/api/ask", "post", r)
        validate(openapi, "/api/sources/{doc_id}", "get", c.get("/api/sources/nope"))
        validate(openapi, "/api/ask", "post", c.post("/api/ask", content=b"{}", headers={"Content-Type": "text/plain"}))


def test_refusals_match_the_published_openapi_schema(client, openapi):
    statuses = set()
    for _ in range(14):
        r = client.post("/api/ask", json=Q)
        statuses.add(r.status_code)
        validate(openapi, "/api/ask", "post", r)
    assert 429 in statuses


def test_the_published_request_schemas_are_the_enforced_ones(openapi):
    ask = openapi["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ask["additionalProperties"] is False and ask["required"] == ["question"]
    assert set(openapi["paths"]["/api/ask"]["post"]["responses"]) >= {"200", "400", "401", "413", "415", "429", "503"}
