"""Command line: ``qa [--config FILE] {index,ask,chat,check,serve,mcp,eval}``.

A thin edge: parse arguments, call :class:`Pipeline`, print. User mistakes
(bad config, empty question, missing index) exit 2 with one line on stderr;
answers, abstentions and every claim verdict exit 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

from qa.errors import IndexMissingError, InputError, QAError
from qa.serve.listen import announce_when_listening, browser_url, port_free  # noqa: F401 (browser_url: public here)
from qa.text.markup import percent

EXIT_OK, EXIT_USAGE = 0, 2


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qa", description="Grounded, extractive answers from your documents.")
    ap.add_argument("--config", default=None, metavar="FILE",
                    help="YAML config (default: ./qa.yaml, or $QA_CONFIG)")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index (only changed documents are embedded)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="embed on Ray Data actors (a local Ray, or the cluster at ADDRESS, e.g. auto); needs .[ray]")

    p = sub.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the JSON object (one per line with '-')")
    p.add_argument("--top-k", type=int, default=None, dest="top_k", help="passages to return")

    p = sub.add_parser("chat", help="a conversation: follow-ups ('When did it end?') are understood from the earlier "
                                    "questions; /new starts a new conversation, Ctrl-D ends ('-' reads one question "
                                    "per stdin line, a blank line starting a new conversation)")
    p.add_argument("input", nargs="?", default=None, metavar="-",
                   help="'-': questions from stdin, one per line (without it: a prompt)")
    p.add_argument("--json", action="store_true", help="with '-': one `qa ask --json` object per question, "
                                                       "with its standalone_question")
    p.add_argument("--top-k", type=int, default=None, dest="top_k", help="passages to return")

    p = sub.add_parser("check", help="check a claim against the sources ('-' reads one claim per line), "
                                     "or a quote with --quote")
    p.add_argument("claim", nargs="?", help="the claim; several sentences are checked one by one")
    p.add_argument("--quote", default=None, metavar="TEXT", help="check that TEXT is quoted verbatim in a source")
    p.add_argument("--source", default=None, metavar="ID", help="with --quote: only look in this document")
    p.add_argument("--json", action="store_true", help="print JSON (one object per claim and line)")

    p = sub.add_parser("eval", help="measure quality on a YAML question or claim set, or a SQuAD JSON file")
    p.add_argument("file", help="eval/seed_questions.yaml or eval/seed_claims.yaml (over the configured corpus), "
                                "or a SQuAD-format .json")
    p.add_argument("--limit", type=int, default=None,
                   help="evaluate at most N questions (SQuAD: sampled with --seed; a YAML set: its first N)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="all", choices=["all", "dev", "test"], help="subset of a YAML set")
    p.add_argument("--workdir", metavar="DIR",
                   help="SQuAD only: keep the corpus and index in DIR, so a rerun embeds nothing")
    p.add_argument("--exclude", metavar="FILE",
                   help="SQuAD only: leave out the articles of this SQuAD-format file (e.g. ones tuned on)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = sub.add_parser("serve", help="start the web UI and HTTP API (builds the index if needed)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=7860)

    sub.add_parser("mcp", help="serve the pipeline to an AI assistant over MCP on stdin/stdout (tools ask, "
                               "check_claim, check_quote; the documents as resources)")
    return ap


def _config_path(arg: str | None) -> Path:
    return Path(arg or os.environ.get("QA_CONFIG") or "qa.yaml")


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _where(item) -> str:
    """``p. 2, chars 10-80`` (the page only for PDF sources)."""
    page = getattr(item, "page", None)
    return (f"p. {page}, " if page is not None else "") + f"chars {item.start}-{item.end}"


def _render(ans) -> str:
    if ans.abstained:
        lines = ["The sources don't answer this." + (f" ({ans.reason})" if ans.reason else "")]
        if ans.passages:
            lines.append("Related, but not an answer:")
            lines += [f"  - {p.title} [{_where(p)}]: {' '.join(p.text[:160].split())}..." for p in ans.passages[:3]]
        return "\n".join(lines)
    lines = [ans.answer, f"confidence {percent(ans.confidence)}"] + ([f"note: {ans.note}"] if ans.note else [])
    for i, c in enumerate(ans.citations, 1):
        lines.append(f"[{i}] {c.title} ({c.source}, {_where(c)})")
        lines.append(f"    \"{c.quote}\"")
        if c.url:
            lines.append(f"    {c.url}")
    return "\n".join(lines)


def _cmd_index(pipeline, args) -> int:
    if args.ray is not None:
        e = pipeline.config.embedding
        pipeline.config = dataclasses.replace(pipeline.config, embedding=dataclasses.replace(
            e, engine="ray", address=args.ray or e.address))
    report = pipeline.build_index(rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty(), warn=_warn)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.skipped:
        print(f"index is up to date ({report.documents} documents, {report.chunks} passages); nothing to do")
    else:
        print(f"indexed {report.documents} documents ({report.added} added, {report.updated} updated, "
              f"{report.removed} removed, {report.unchanged} unchanged): {report.chunks} passages, "
              f"{report.embedded} sentences embedded in {report.seconds:.1f}s")
    return EXIT_OK


def _cmd_ask(pipeline, args) -> int:
    if args.question != "-":
        ans = pipeline.ask(args.question, top_k=args.top_k)
        print(json.dumps(ans.to_dict(), ensure_ascii=False) if args.json else _render(ans))
        return EXIT_OK
    return _each_stdin_line(args, "question", lambda q: [pipeline.ask(q, top_k=args.top_k)], _render)


def _render_turn(ans) -> str:
    """An answer in a conversation: as `qa ask` prints it, after what the question was understood as."""
    text = _render(ans)
    if ans.standalone_question and ans.standalone_question != " ".join(ans.question.split()):
        text = f"Understood as: {ans.standalone_question}\n{text}"
    return text


def _cmd_chat(pipeline, args) -> int:
    if args.input == "-":
        return _chat_lines(pipeline, args)
    try:
        import readline  # noqa: F401 (line editing and recall at the prompt)
    except ImportError:  # pragma: no cover
        pass
    tty = sys.stdin.isatty()
    if tty:
        print("Ask about the documents; a follow-up such as \"When did it end?\" is understood from the "
              "conversation. /new starts a new conversation, Ctrl-D ends.", file=sys.stderr)
    history: list = []
    keep = pipeline.config.limits.max_history_turns
    while True:
        try:
            text = input("> " if tty else "").strip()
        except EOFError:
            if tty:
                print(file=sys.stderr)
            return EXIT_OK
        if not text:
            continue
        if text == "/new":
            history = []
            print("(a new conversation)\n", flush=True)
            continue
        try:
            ans = pipeline.ask(text, top_k=args.top_k, history=history)
        except InputError as exc:  # a question it cannot take: say so and go on
            print(f"qa: error: {exc}", file=sys.stderr, flush=True)
            continue
        print(_render_turn(ans) + "\n", flush=True)
        history = (history + [ans])[-keep:]


def _chat_lines(pipeline, args) -> int:
    """`qa chat -`: one question per stdin line, each with the conversation so far; a blank line starts a new one."""
    status = EXIT_OK
    history: list = []
    keep = pipeline.config.limits.max_history_turns
    for number, text, bad in _stdin_lines():
        if not text.strip() and bad is None:
            history = []
            continue
        try:
            if bad is not None:
                raise QAError(f"line {number} of stdin is not valid UTF-8 (byte {bad}); send UTF-8 text")
            ans = pipeline.ask(text, top_k=args.top_k, history=history)
        except QAError as exc:
            if not args.json:
                raise
            print(json.dumps({"question": text, "error": str(exc)}, ensure_ascii=False), flush=True)
            status = EXIT_USAGE
            continue
        print(json.dumps(ans.to_dict(), ensure_ascii=False) if args.json else _render_turn(ans) + "\n", flush=True)
        history = (history + [ans])[-keep:]
    return status


def _each_stdin_line(args, key: str, run, render, numbered: bool = False) -> int:
    """One input per stdin line (model loaded once), one output per result of ``run(line)``.

    With --json a line that can't be taken becomes ``{key: line, "error": ...}`` and the exit
    code is 2 while the other lines are still answered; without --json the error ends the run.
    ``numbered``: each JSON object also carries ``"line"``, its 1-based input line (one line can
    hold several claims).
    """
    status = EXIT_OK
    for number, text, bad in _stdin_lines():
        if not text.strip() and bad is None:
            continue
        try:
            if bad is not None:
                raise QAError(f"line {number} of stdin is not valid UTF-8 (byte {bad}); send UTF-8 text")
            results = run(text)
        except QAError as exc:
            if not args.json:
                raise
            line = {"line": number} if numbered else {}
            print(json.dumps({key: text, "error": str(exc), **line}, ensure_ascii=False), flush=True)
            status = EXIT_USAGE
            continue
        for r in results:
            line = {"line": number} if numbered else {}
            print(json.dumps({**r.to_dict(), **line}, ensure_ascii=False) if args.json else render(r) + "\n", flush=True)
    return status


def _render_verdict(v) -> str:
    head = {"supported": "SUPPORTED", "contradicted": "CONTRADICTED", "not_found": "NOT FOUND"}[v.verdict]
    lines = [f"{head} (confidence {percent(v.confidence)}): {v.claim}"]
    if v.verdict == "not_found":
        lines.append("  nothing in the sources is about this closely enough"
                     + ("; the closest passages:" if v.related else ""))
        for i, e in enumerate(v.related, 1):
            lines.append(f"  related [{i}] {e.title} ({e.source}, chars {e.start}-{e.end})")
            lines.append(f"      \"{e.quote}\"")
    for m in v.mismatches:
        lines.append(f"  the claim says \"{m.claim_text}\", the source says \"{m.evidence_text}\" "
                     f"(chars {m.evidence_start}-{m.evidence_end})")
    for i, e in enumerate(v.evidence, 1):
        lines.append(f"  [{i}] {e.title} ({e.source}, chars {e.start}-{e.end})")
        lines.append(f"      \"{e.quote}\"")
    return "\n".join(lines)


def _render_quote(q) -> str:
    text = _render_quote_result(q)
    if not q.complete:
        text += "\n(the search stopped at its time limit, limits.quote_seconds in qa.yaml: this is the best found by then)"
    return text


def _render_quote_result(q) -> str:
    if q.status == "not_found":
        return f"NOT FOUND: no passage of the sources is close to this quote (best similarity {q.score:.0%})"
    where = f"{q.title} ({q.source}, chars {q.start}-{q.end})"
    if q.status == "verbatim":
        return f"VERBATIM in {where}:\n  \"{q.passage}\""
    lines = [f"NOT VERBATIM; the closest passage ({q.score:.0%} similar) is in {where}:", f"  \"{q.passage}\"",
             "  differences (quote -> source):"]
    for d in q.diffs:
        lines.append(f"    \"{d.quote_text}\" -> \"{d.source_text}\"" if d.op == "replace" else
                     f"    missing in the source: \"{d.quote_text}\"" if d.op == "delete" else
                     f"    missing in the quote: \"{d.source_text}\"")
    return "\n".join(lines)


def _cmd_check(pipeline, args) -> int:
    if args.quote is not None:
        result = pipeline.check_quote(args.quote, args.source)
        print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json else _render_quote(result))
        return EXIT_OK
    if args.claim != "-":
        for v in pipeline.check_text(args.claim):
            print(json.dumps(v.to_dict(), ensure_ascii=False) if args.json else _render_verdict(v))
        return EXIT_OK
    return _each_stdin_line(args, "claim", pipeline.check_text, _render_verdict, numbered=True)


def _stdin_lines():
    """``(line number, text, offset of the first invalid byte or None)`` for each line of stdin.

    Lines are decoded one by one, so one line of invalid UTF-8 is reported on its own line of output
    and the others are still answered; its text has U+FFFD where the bad bytes were.
    """
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text stream (tests, embedding): already decoded
        for n, line in enumerate(sys.stdin, 1):
            yield n, line.rstrip("\r\n"), None
        return
    for n, line in enumerate(raw, 1):
        line = line.rstrip(b"\r\n")
        try:
            yield n, line.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield n, line.decode("utf-8", "replace"), exc.start


def _port(text: str) -> int:
    """A TCP port number, 0-65535 (argparse says the error in one line)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 65535, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 65535, got {port}")
    return port


def _cmd_serve(pipeline, args) -> int:
    port_free(args.host, args.port)
    report = pipeline.ensure_index(progress=sys.stderr.isatty(), warn=_warn)
    if report is not None:
        print(f"index built: {report.documents} documents, {report.chunks} passages", file=sys.stderr)
    from qa.serve.api import serve

    if args.port:  # port 0: the system picks one, and uvicorn's log names it
        announce_when_listening(args.host, args.port)
    serve(pipeline, host=args.host, port=args.port, build_seconds=report.seconds if report is not None else None)
    return EXIT_OK


def _cmd_mcp(pipeline, args) -> int:
    from qa.serve.mcp import serve_stdio
    serve_stdio(pipeline, warn=_warn)  # stdout carries the protocol: every word for a person goes to stderr
    return EXIT_OK


def _confusion_table(confusion: dict) -> str:
    """Gold verdicts as rows, predicted as columns."""
    cols = list(confusion)
    width = max(len(c) for c in cols) + 2
    lines = ["confusion (rows: gold, columns: predicted):", " " * width + "".join(c.rjust(width) for c in cols)]
    for gold, row in confusion.items():
        lines.append(gold.ljust(width) + "".join(str(row[c]).rjust(width) for c in cols))
    return "\n".join(lines)


def _cmd_eval(pipeline, args) -> int:
    from tqdm.auto import tqdm

    from qa.evaluation.dialogues import eval_dialogues, is_dialogue_set, load_dialogue_set
    from qa.evaluation.evaluate import (eval_claim_set, eval_question_set, eval_squad, is_claim_set, load_claim_set,
                             load_question_set)
    from qa.evaluation.squad import titles
    from qa.pipeline import Pipeline

    path = Path(args.file)
    if not path.is_file():
        raise QAError(f"eval file not found: {path}")
    bar = (lambda it, **k: tqdm(it, file=sys.stderr, **k)) if not args.json and sys.stderr.isatty() else (lambda it, **k: it)
    if path.suffix.lower() == ".json":
        def make(corpus: Path, index: Path) -> Pipeline:
            cfg = dataclasses.replace(pipeline.config, corpus=corpus, index=index)
            return Pipeline(cfg, embedder=pipeline.embedder)

        if args.exclude and not Path(args.exclude).is_file():
            raise QAError(f"--exclude file not found: {args.exclude}")
        result = eval_squad(path, args.limit, args.seed, make, workdir=Path(args.workdir) if args.workdir else None,
                            progress=bar, exclude=titles(args.exclude) if args.exclude else set())
    elif is_dialogue_set(path):
        dialogues = load_dialogue_set(path, args.split)
        result = eval_dialogues(pipeline, dialogues[:args.limit] if args.limit is not None else dialogues, progress=bar)
    elif is_claim_set(path):
        claims = load_claim_set(path, args.split)
        result = eval_claim_set(pipeline, claims[:args.limit] if args.limit is not None else claims, progress=bar)
    else:
        qs = load_question_set(path, args.split)
        if args.limit is not None:
            qs = type(qs)(qs.answerable[:args.limit], qs.off_topic[:args.limit], qs.unanswerable[:args.limit])
        result = eval_question_set(pipeline, qs, progress=bar)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            if key == "confusion":
                print(_confusion_table(value))
            elif isinstance(value, dict):
                print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
            elif isinstance(value, list):
                print(f"{key}: {len(value)}")
                for item in value[:20]:
                    print(f"   {item}")
            else:
                print(f"{key}: {value}")
    return EXIT_OK


def _check_args(args) -> None:
    """Refuse a malformed ``qa check`` before loading anything."""
    if args.quote is not None:
        if args.claim is not None:
            raise QAError("give either a claim or --quote \"...\", not both")
        if not args.quote.strip():
            raise QAError("quote is empty: qa check --quote \"the exact words\"")
        return
    if args.source is not None:
        raise QAError("--source only applies to --quote: qa check --quote \"...\" --source ID")
    if args.claim is None or (args.claim != "-" and not args.claim.strip()):
        raise QAError("claim is empty: qa check \"a sentence to check\" (or --quote \"...\")")


def _qa(args) -> str:
    """``qa`` as this run was called, with its ``--config``: the start of a command to suggest."""
    return f"qa --config {shlex.quote(args.config)}" if args.config else "qa"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "ask" and args.question != "-" and not args.question.strip():
            raise QAError("question is empty: qa ask \"your question\"")
        if args.command == "check":
            _check_args(args)
        if args.command == "chat" and args.input not in (None, "-"):
            raise QAError(f"qa chat takes '-' (questions from stdin) or nothing (a prompt), got {args.input!r}")
        if args.command == "chat" and args.json and args.input != "-":
            raise QAError("--json reads the questions from stdin: qa chat --json -")
        from qa.config import TOP_K_RANGE, valid_top_k

        if args.command in ("ask", "chat") and args.top_k is not None and not valid_top_k(args.top_k):
            raise QAError(f"--top-k must be {TOP_K_RANGE}, got {args.top_k}")
        # Imported here, not at the top: usage errors and --help never load numpy, torch or the index.
        from qa.pipeline import Pipeline

        pipeline = Pipeline.from_config(_config_path(args.config))
        pipeline.on_stale = lambda reason: _warn(f"{reason}; answering from the last good build until "
                                                 f"`{_qa(args)} index` runs")
        handler = {"index": _cmd_index, "ask": _cmd_ask, "chat": _cmd_chat, "check": _cmd_check, "serve": _cmd_serve,
                   "mcp": _cmd_mcp, "eval": _cmd_eval}[args.command]
        return handler(pipeline, args)
    except QAError as exc:
        message = str(exc)
        if isinstance(exc, IndexMissingError):  # the command to run needs the same config
            message = message.replace("run `qa index`", f"run `{_qa(args)} index`")
        print(f"qa: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`qa ask --json - < questions | head -1`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 141  # 128 + SIGPIPE, as other tools in a pipeline report it


if __name__ == "__main__":
    sys.exit(main())
