"""The Gradio API works through gradio_client against a real server on loopback."""

import pytest

from .conftest import fake_pipeline
from .test_browser import Served, free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from qa.api import create_app

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
