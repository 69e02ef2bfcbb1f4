"""``qa mcp``: the MCP server driven by the SDK's own client, in process."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from qa.serve.mcp import build_server, document_uri

from .conftest import fake_pipeline

SEED = "000_c6a6f3801ffa9646.txt"
EXPORT_Q = "How much did Japan export to South Korea in 2021?"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("mcp"))


def drive(pipeline, steps):
    """Connect the SDK's client to the server in process and run ``steps(client)``."""
    async def main():
        async with Client(build_server(pipeline)) as client:
            return await steps(client)

    return anyio.run(main)


def test_tools_are_listed_with_their_arguments(pipeline):
    async def steps(client):
        return (await client.list_tools()).tools

    tools = {t.name: t for t in drive(pipeline, steps)}
    assert set(tools) == {"ask", "check_claim", "check_quote"}
    assert tools["ask"].input_schema["required"] == ["question"]
    assert "history" in tools["ask"].input_schema["properties"]
    assert set(tools["check_quote"].input_schema["properties"]) == {"quote", "source"}


def test_ask_returns_the_answer_json(pipeline):
    async def steps(client):
        return await client.call_tool("ask", {"question": EXPORT_Q})

    result = drive(pipeline, steps)
    assert not result.is_error
    assert result.structured_content == pipeline.ask(EXPORT_Q).to_dict()
    assert result.structured_content["answer"] == "$51.1 billion"


def test_ask_with_history_and_an_abstention(pipeline):
    first = pipeline.ask("When did North Korea invade South Korea?")
    history = [{"question": first.question, "answer": first.answer}]

    async def steps(client):
        follow = await client.call_tool("ask", {"question": "When did it end?", "history": history})
        off = await client.call_tool("ask", {"question": "What is the capital of Mars?"})
        return follow, off

    follow, off = drive(pipeline, steps)
    assert follow.structured_content == pipeline.ask("When did it end?", history=history).to_dict()
    assert follow.structured_content["standalone_question"] != "When did it end?"
    assert not off.is_error and off.structured_content["abstained"] is True


def test_a_user_mistake_is_a_tool_error_in_one_line(pipeline):
    async def steps(client):
        return await client.call_tool("ask", {"question": "   "})

    result = drive(pipeline, steps)
    assert result.is_error
    assert "question" in result.content[0].text and "Traceback" not in result.content[0].text


def test_check_claim_and_quote(pipeline):
    claim = "Japan is the second-largest economy in the world."
    words = "the U.S. House of Representatives adopted a resolution"

    async def steps(client):
        return (await client.call_tool("check_claim", {"claim": claim}),
                await client.call_tool("check_quote", {"quote": words}),
                await client.call_tool("check_quote", {"quote": words, "source": "no-such-id"}))

    verdicts, found, unknown = drive(pipeline, steps)
    assert verdicts.structured_content == {"verdicts": [v.to_dict() for v in pipeline.check_text(claim)]}
    assert found.structured_content == {"quote": pipeline.check_quote(words).to_dict()}
    assert unknown.is_error and "no-such-id" in unknown.content[0].text


def test_documents_are_resources(pipeline):
    async def steps(client):
        listed = (await client.list_resources()).resources
        read = await client.read_resource(document_uri(SEED))
        return listed, read

    listed, read = drive(pipeline, steps)
    assert sorted(r.name for r in listed) == sorted(pipeline.index.doc_ids)
    assert read.contents[0].text == pipeline.source(SEED)["text"]
