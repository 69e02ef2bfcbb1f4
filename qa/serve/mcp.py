"""``qa mcp``: the pipeline as a Model Context Protocol server, for AI assistants and agents.

Built with the official SDK (``mcp``): :func:`build_server` returns an ``MCPServer`` with three tools and
one resource per indexed document; :func:`serve_stdio` runs it on stdin/stdout, which is how a desktop
assistant starts a local server (its config names the command ``qa mcp``).

- ``ask(question, history?)``: the ``qa ask --json`` object (an abstention is a normal result too).
- ``check_claim(claim)``: ``{"verdicts": [...]}``, one per sentence, as ``POST /api/check``.
- ``check_quote(quote, source?)``: ``{"quote": {...}}``, as ``POST /api/check`` with a quote.
- ``qa://documents/<id>``: a document's text, the one every offset in the answers indexes into.

A user mistake (an empty question, an unknown source) comes back as a tool error with the same one line
the CLI prints; nothing is written to stdout but the protocol.
"""

from __future__ import annotations

import sys

from typing import Any
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource
from pydantic import BaseModel, ConfigDict, Field

from qa.errors import QAError
from qa.pipeline import Pipeline

SCHEME = "qa://documents/"
INSTRUCTIONS = (
    "Grounded, extractive answers from the operator's own documents. Every answer is a verbatim span of a "
    "document with citations (character offsets into the document text); when the documents do not answer, "
    "the result says abstained: true instead of guessing. Quote the answer and cite its source; do not add "
    "facts the citations do not hold.")


class Turn(BaseModel):
    """An earlier turn of the conversation, so that a follow-up ("When did it end?") is understood."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="An earlier question, as it was asked")
    answer: str | None = Field(None, description="The answer it got, or null when the sources did not answer")


def document_uri(doc_id: str) -> str:
    """The resource address of an indexed document (its id, percent-encoded)."""
    return SCHEME + quote(doc_id, safe="")


def build_server(pipeline: Pipeline) -> MCPServer:
    """An MCP server over ``pipeline``: tools ``ask``, ``check_claim``, ``check_quote``; documents as resources."""
    server = MCPServer("qa", instructions=INSTRUCTIONS)

    def run(fn, *args) -> Any:
        try:
            return fn(*args)
        except QAError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def ask(question: str, history: list[Turn] | None = None) -> dict[str, Any]:
        """Answer a question from the indexed documents: a verbatim span with citations (source, offsets,
        quote), or abstained: true with a reason when the documents do not answer. Give the earlier turns in
        history (oldest first) to ask a follow-up."""
        turns = None if history is None else [t.model_dump() for t in history]
        return run(pipeline.ask, question, None, turns).to_dict()

    @server.tool()
    def check_claim(claim: str) -> dict[str, Any]:
        """Check one or more sentences against the documents: a verdict per sentence (supported,
        contradicted or not_found) with its evidence."""
        return {"verdicts": [v.to_dict() for v in run(pipeline.check_text, claim)]}

    @server.tool()
    def check_quote(quote: str, source: str | None = None) -> dict[str, Any]:
        """Whether words appear verbatim in the documents (or in the one document ``source``), with where."""
        return {"quote": run(pipeline.check_quote, quote, source).to_dict()}

    index = pipeline.index
    for doc_id, title in zip(index.doc_ids, index.titles):
        title = title or doc_id
        server.add_resource(FunctionResource(
            uri=document_uri(doc_id), name=doc_id, title=title, mime_type="text/plain",
            description=f"The text of {title!r}: answer and citation offsets index into it",
            fn=lambda doc_id=doc_id: pipeline.source(doc_id)["text"]))
    return server


def serve_stdio(pipeline: Pipeline, warn=None) -> None:
    """Serve ``pipeline`` over MCP on stdin/stdout until the client closes them (the index is built first
    when it is missing or stale; what a person should read goes to stderr)."""
    report = pipeline.ensure_index(progress=False, warn=warn)
    if report is not None:
        print(f"index built: {report.documents} documents, {report.chunks} passages", file=sys.stderr)
    pipeline.warm_up()
    build_server(pipeline).run("stdio")
