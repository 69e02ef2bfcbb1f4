"""Command line: ``qa [--config FILE] {index,ask,serve,eval}``.

A thin edge: parse arguments, call :class:`Pipeline`, print. User mistakes
(bad config, empty question, missing index) exit 2 with one line on stderr;
answers and abstentions exit 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from .errors import QAError

EXIT_OK, EXIT_USAGE = 0, 2


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qa", description="Grounded, extractive answers from your documents.")
    ap.add_argument("--config", default=None, metavar="FILE",
                    help="YAML config (default: ./qa.yaml, or $QA_CONFIG)")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index (only changed documents are embedded)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")

    p = sub.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the JSON object (one per line with '-')")
    p.add_argument("--top-k", type=int, default=None, dest="top_k", help="passages to return")

    p = sub.add_parser("eval", help="measure answer quality on a YAML question set or a SQuAD JSON file")
    p.add_argument("file", help="eval/seed_questions.yaml (uses the configured corpus) or SQuAD-format .json")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N questions (sampled with --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="all", choices=["all", "dev", "test"], help="subset of a YAML set")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = sub.add_parser("serve", help="start the web UI and HTTP API (builds the index if needed)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    return ap


def _config_path(arg: str | None) -> Path:
    return Path(arg or os.environ.get("QA_CONFIG") or "qa.yaml")


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _render(ans) -> str:
    if ans.abstained:
        lines = ["The sources don't answer this." + (f" ({ans.reason})" if ans.reason else "")]
        if ans.passages:
            lines.append("Related, but not an answer:")
            lines += [f"  - {p.title} [{p.start}:{p.end}]: {p.text[:160]}..." for p in ans.passages[:3]]
        return "\n".join(lines)
    lines = [ans.answer, f"confidence {ans.confidence:.0%}"]
    for i, c in enumerate(ans.citations, 1):
        lines.append(f"[{i}] {c.title} ({c.source}, chars {c.start}-{c.end})")
        lines.append(f"    \"{c.quote}\"")
    return "\n".join(lines)


def _cmd_index(pipeline, args) -> int:
    report = pipeline.build_index(rebuild=args.rebuild, progress=not args.json and sys.stderr.isatty(),
                                  warn=_warn)
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
    status = EXIT_OK
    for number, question, bad in _stdin_lines():
        if not question.strip() and bad is None:
            continue
        try:
            if bad is not None:
                raise QAError(f"line {number} of stdin is not valid UTF-8 (byte {bad}); send UTF-8 text")
            ans = pipeline.ask(question, top_k=args.top_k)
            out = ans.to_dict() if args.json else None
        except QAError as exc:
            if not args.json:
                raise
            out, status = {"question": question, "error": str(exc)}, EXIT_USAGE
        print(json.dumps(out, ensure_ascii=False) if args.json else _render(ans) + "\n", flush=True)
    return status


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


def _cmd_serve(pipeline, args) -> int:
    report = pipeline.ensure_index(progress=sys.stderr.isatty(), warn=_warn)
    if report is not None:
        print(f"index built: {report.documents} documents, {report.chunks} passages", file=sys.stderr)
    from .api import serve

    serve(pipeline, host=args.host, port=args.port)
    return EXIT_OK


def _cmd_eval(pipeline, args) -> int:
    from tqdm.auto import tqdm

    from .config import config_from_dict
    from .evaluation import eval_question_set, eval_squad, load_question_set
    from .pipeline import Pipeline

    path = Path(args.file)
    if not path.is_file():
        raise QAError(f"eval file not found: {path}")
    bar = (lambda it, **k: tqdm(it, file=sys.stderr, **k)) if not args.json and sys.stderr.isatty() else (lambda it, **k: it)
    if path.suffix.lower() == ".json":
        def make(corpus: Path, index: Path) -> Pipeline:
            cfg = dataclasses.replace(pipeline.config, corpus=corpus, index=index)
            return Pipeline(cfg, embedder=pipeline.embedder)

        result = eval_squad(path, args.limit, args.seed, make, progress=bar)
    else:
        qs = load_question_set(path, args.split)
        if args.limit is not None:
            qs = type(qs)(qs.answerable[:args.limit], qs.off_topic[:args.limit])
        result = eval_question_set(pipeline, qs, progress=bar)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            if isinstance(value, list):
                print(f"{key}: {len(value)}")
                for item in value[:20]:
                    print(f"   {item}")
            else:
                print(f"{key}: {value}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from .pipeline import Pipeline

        if args.command == "ask" and args.question != "-" and not args.question.strip():
            raise QAError("question is empty: qa ask \"your question\"")
        if args.command == "ask" and args.top_k is not None and not 1 <= args.top_k <= 100:
            raise QAError(f"--top-k must be between 1 and 100, got {args.top_k}")
        pipeline = Pipeline.from_config(_config_path(args.config))
        handler = {"index": _cmd_index, "ask": _cmd_ask, "serve": _cmd_serve, "eval": _cmd_eval}[args.command]
        return handler(pipeline, args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
