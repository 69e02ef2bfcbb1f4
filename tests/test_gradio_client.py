"""The Gradio API works through gradio_client against a real server on loopback."""

import pytest

from .conftest import fake_pipeline
from .live import Served, free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from qa.serve.api import create_app

    pipeline = fake_pipeline(tmp_path_factory.mktemp("gc"), abstain_threshold=0.0)
    s = Served(create_app(pipeline), free_port())
    yield s, pipeline
    s.close()


def test_gradio_client_ask_returns_the_json_object(served):
    from gradio_client import Client

    server, pipeline = served
    client = Client(server.url + "/", verbose=False)
    got = client.predict("When did Japan colonize Korea?", None, api_name="/ask")
    assert got == pipeline.ask("When did Japan colonize Korea?").to_dict()


@pytest.mark.parametrize("question, message", [
    ("   ", "question is empty"),
    ("why " * 1000, "limit is 2000"),
    ("\x00\x01\x7f", "question is empty"),
])
def test_gradio_client_bad_question_is_a_clear_error(served, question, message):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served[0].url + "/", verbose=False)
    with pytest.raises(AppError, match=message):
        client.predict(question, None, api_name="/ask")


def test_gradio_client_bad_claim_is_a_clear_error(served):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served[0].url + "/", verbose=False)
    with pytest.raises(AppError, match="claim is empty"):
        client.predict("   ", api_name="/check")


def test_gradio_routes_have_the_body_limit(served):
    import httpx

    server, pipeline = served
    limit = pipeline.config.limits.max_body_bytes
    body = b'{"data": ["' + b"x" * limit + b'", null], "fn_index": 0, "session_hash": "s"}'
    for path in ("/gradio_api/queue/join", "/gradio_api/call/ask", "/gradio_api/run/ask", "/gradio_api/upload"):
        r = httpx.post(server.url + path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "limits.max_body_bytes" in r.json()["error"], (path, r.text[:200])


def test_chat_events_log_no_pandas_warnings(tmp_path):
    """Gradio summarised its event analytics with pandas after every event (for a monitoring page this
    app never enables), and pandas 3 warned each time."""
    import warnings

    from gradio_client import Client

    from qa.serve.api import create_app

    pipeline = fake_pipeline(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = Served(create_app(pipeline), free_port())
        try:
            client = Client(server.url + "/", verbose=False)
            for q in ("When did Japan colonize Korea?", "What is Dokdo?", "Who is Fumio Kishida?"):
                client.predict(q, None, api_name="/ask")
        finally:
            server.close()  # the server thread has finished every event's bookkeeping
    assert [str(w.message) for w in caught if "pandas" in type(w.message).__module__.lower()] == []
