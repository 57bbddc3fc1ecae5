"""Command line: `python -m bot ask|check|eval|run|sandbox|report|forget|learn|labels|migrate`.

ask [--json] [--staff] [QUESTION ...]
                              what the bot would answer; "/messenger ..." runs the slash command as
                              Slack does for a member (reload and report are refused), or for staff
check [PATH] [--strict]       validate the content file: silent and exit 0 when it is fine
eval FILE.tsv [--summary | --json] [--min-accuracy X] [--min-oos-recall Y] [--suggestion-floor Z] [--without STAGE]
                              accuracy per intent, and what fallbacks suggest, on a labelled set;
                              non-zero exit under the thresholds; Z tries another suggestion floor;
                              --without (repeatable) skips a stage of intents/pipeline.py, to measure it
run [--staff]                 serve (with credentials) or local mode (without: devtools/local.py;
                              --staff: act as staff)
sandbox [--port 3001] [--path FILE]
                              a local Slack page for staff at http://127.0.0.1:3001/: the real bot,
                              rendered as Slack shows it, with why each answer was chosen
report [--days N] [--json]    what members asked, what went unanswered, feedback and hand-offs
forget --user U123            delete one member's rows from the question log
learn "QUESTION" INTENT_ID    add the question as an example of the intent, then check the file
labels list [--all] [--json] | labels undo ID | labels export [--path FILE]
                              staff's labels from Teach (in the question log): list them, undo one
                              (every instance unlearns it), or write them into the content as
                              examples (off-topic ones into training/labels.tsv) and mark them exported
migrate                       bring the question log's schema (DATABASE_URL) up to date, then exit:
                              the Procfile's release step
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from bot.blocks import Message
from bot.command_names import Commands
from bot.content import Content, build_content, validate_file
from bot.conversation import FALLBACK, Heard, Turn, take_turn
from bot.question_log import QuestionStore
from bot.routing import MemberCommand, StaffCommand, reload_reply, report_usage, route_command
from bot.safety import for_terminal
from bot.settings import PROJECT_DIR, SettingsError, ToolSettings, tool_settings
from bot.terminal import to_plain_text
from intents import ContentError
from intents.pipeline import REQUIRED, STAGE_NAMES
from intents.training import LabelError, read_labelled

T = TypeVar("T")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,30}")
# The environment as bot/settings.py reads it for the command line: read once, in main().
_tools = ToolSettings(PROJECT_DIR / "responses.yaml")


def _commands() -> Commands:
    return Commands(_tools.messenger_command, _tools.keypoints_command)


def _load(path: Path) -> Content | None:
    try:
        return build_content(path, _commands())
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None


def _links(blocks: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"label": e["text"]["text"], "url": e["url"]}
        for b in blocks
        for e in (b.get("elements") or []) + ([b["accessory"]] if b.get("accessory") else [])
        if isinstance(e, dict) and "url" in e
    ]


@dataclass(frozen=True)
class Asked:
    """One question's reply: what answered, the message as Slack would show it, the conversation's turn
    (None for a staff sub-command)."""

    what: str
    message: Message
    turn: Turn | None = None
    refused: bool = False  # a staff-only sub-command asked without --staff
    command: bool = True  # a slash command (else a question, as in a direct message)


def _ask_one(content: Content, question: str, *, staff: bool, path: Path) -> Asked:
    """What a member (or, `staff`, a member of staff) gets, through the same conversation as in Slack: a
    slash command (`/messenger signup`) as the command, staff-only sub-commands refused to members, anything
    else as a direct message."""
    commands = _commands()
    name, _, rest = question.strip().partition(" ")
    if name in (commands.messenger, commands.keypoints):
        route = route_command(rest, keypoints=name == commands.keypoints)
        if isinstance(route, StaffCommand) and route.unclear is not None:
            if not staff:  # `report findings` from a member is a question
                route = MemberCommand(rest)
            else:
                return Asked(route.name, _plain(report_usage(commands.messenger)))
        if isinstance(route, StaffCommand):
            refusal = route.refusal_for(staff=staff)
            if refusal is not None:
                return Asked(route.name, _plain(refusal), refused=True)
            return Asked(route.name, _plain(_staff_reply(content, route, path)))
        turn = take_turn(content, Heard(rest, "command", command=route))
    else:
        turn = take_turn(content, Heard(question, "cli"))
    assert turn.message is not None
    return Asked(turn.what or FALLBACK, turn.message, turn, command=turn.said == "command")


def _plain(text: str) -> Message:
    """A reply of text alone, as the staff sub-commands send theirs."""
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def _staff_reply(content: Content, route: StaffCommand, path: Path) -> str:
    """What staff are told. `reload`: `ask` reads the content file afresh each time, so it is in service
    already. `report`: the question log's report, as `python -m bot report --days N` prints it."""
    if route.name == "reload":
        return reload_reply([], path.name, len(content.catalogue.intents))
    from bot.report import build_report, format_report

    _, report = _on_question_log(lambda store: build_report(store, content.engine, route.days))
    return format_report(report) if report is not None else "The question log could not be read (see above)."


def cmd_ask(args: argparse.Namespace) -> int:
    content = _load(args.path)
    if content is None:
        return 1
    if not args.questions and sys.stdin.isatty():
        # Nothing to ask and nobody piping questions in: say how, rather than wait on the terminal.
        print('error: give a question (python -m bot ask "what are the key points?") or pipe questions in, '
              "one a line", file=sys.stderr)  # fmt: skip
        return 2
    questions = args.questions or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for question in questions:
        asked = _ask_one(content, question, staff=args.staff, path=args.path)
        turn, message, command = asked.turn, asked.message, asked.command
        answer = turn.answer if turn is not None else None
        text = to_plain_text(message.blocks)
        confidence = answer.confidence if answer is not None and not command else 1.0
        # The choices the reply offers as buttons: a question back's, or "did you mean" under a fallback.
        alternatives = [i.id for i in turn.choices] if turn is not None else []
        if args.json:
            record = {
                "question": question,
                "intent": None if command or turn is None else turn.intent,
                "confidence": confidence,
                # "ask": the reply asks which of `alternatives` the member means (buttons, as in Slack);
                # "fallback": "I don't know", with `alternatives` as "did you mean".
                "mode": answer.mode if answer is not None and not command else None,
                "alternatives": alternatives,
                "text": text,
                "links": _links(message.blocks),
            }
            if command:
                record["command"] = asked.what
            if asked.refused:
                record["refused"] = True
            print(json.dumps(record, ensure_ascii=False))
        else:
            label = "command:     " if command else "intent:      "
            what = asked.what if command else (turn.intent if turn and turn.intent else "(none: fallback)")
            what = f"{what} (staff only: refused; --staff acts as staff)" if asked.refused else what
            print(f"question:     {question}\n{label} {what}\nconfidence:   {confidence:.2f}")
            print(f"alternatives: {', '.join(alternatives) or '-'}\n\n{text}\n")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    result = validate_file(args.path, _commands())
    for problem in result.problems:
        print(problem)
    if result.errors or (result.warnings and args.strict):
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    content = _load(args.path)
    if content is None:
        return 1
    try:
        questions = read_labelled(args.file, {i.id for i in content.catalogue.intents})
    except (OSError, LabelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = content.engine
    if args.suggestion_floor is not None:
        settings = content.catalogue.settings
        if not 0 <= args.suggestion_floor <= settings.confidence_threshold:
            print(
                f"error: --suggestion-floor must be from 0 up to the confidence threshold "
                f"({settings.confidence_threshold:g})",
                file=sys.stderr,
            )
            return 2
        # The same catalogue with only the floor changed: nothing else moves between two runs.
        catalogue = replace(content.catalogue, settings=replace(settings, suggestion_floor=args.suggestion_floor))
        from intents.engine import Engine

        engine = Engine(catalogue)
    try:
        from intents.evaluate import evaluate

        evaluation = evaluate(engine, questions, frozenset(args.without))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        figures = {"accuracy": evaluation.accuracy, "out_of_scope_recall": evaluation.out_of_scope_recall,
                   "one_click": evaluation.one_click, "ask_rate": evaluation.ask_rate}  # fmt: skip
        print(json.dumps({"file": str(args.file), **figures, "answers": evaluation.answers}, indent=1))
    else:
        from intents.evaluate import format_evaluation

        text = format_evaluation(evaluation)
        print("\n".join(text.split("\n")[:3]) if args.summary else text)
    failed = []
    if args.min_accuracy is not None and evaluation.accuracy < args.min_accuracy:
        failed.append(f"accuracy {evaluation.accuracy:.3f} is under {args.min_accuracy}")
    if args.min_oos_recall is not None and evaluation.out_of_scope_recall < args.min_oos_recall:
        failed.append(f"out-of-scope recall {evaluation.out_of_scope_recall:.3f} is under {args.min_oos_recall}")
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


def _no_devtools(exc: ImportError, what: str) -> int:
    """One line, exit 2, when the developer tools (devtools/, beside bot/) are not in this checkout;
    any other import failure is a real bug, so it is raised as it is."""
    if (exc.name or "").partition(".")[0] != "devtools":
        raise exc
    print(
        f"error: {what} needs the developer tools (devtools/ beside bot/), which this checkout lacks", file=sys.stderr
    )
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    if _tools.settings is not None:
        if args.staff:
            print("error: --staff is for local mode; in Slack, staff are STAFF_USER_IDS and STAFF_USERGROUP_IDS",
                  file=sys.stderr)  # fmt: skip
            return 2
        import app

        return app.main()
    try:
        from devtools.local import run_local
    except ImportError as exc:
        return _no_devtools(exc, "local mode (`run` without Slack credentials)")
    try:
        asyncio.run(run_local(_tools, staff=args.staff))
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    # Imported here: the page and its server are developer tools, no part of the bot's own start-up.
    try:
        from devtools.sandbox.web import run_sandbox
    except ImportError as exc:
        return _no_devtools(exc, "the sandbox")
    try:
        asyncio.run(run_sandbox(args.path, args.port))
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot serve the sandbox on port {args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _on_question_log(
    work: Callable[[QuestionStore], Awaitable[T]], *, hashing_note: bool = True
) -> tuple[int, T | None]:
    """Open the question log as the bot does (DATABASE_URL and the member-hash secret from the
    environment), migrate it, run `work`, close it: (0, its result), or (exit code, None) when the
    log cannot be reached. A database that is down or refuses us is one line, not a traceback.
    `hashing_note`: say so when members would be hashed with local mode's key (not for `migrate`,
    which hashes no one)."""
    from bot.question_log_sql import StoreUnavailable
    from bot.services import store_for_tools

    try:
        store, note = store_for_tools(_tools)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    except StoreUnavailable as exc:  # a SQLite path whose folder cannot be made or written
        print(f"error: cannot reach the question log: {exc}", file=sys.stderr)
        return 1, None
    if note and hashing_note:
        print(note, file=sys.stderr)

    async def run() -> T:
        try:
            await store.migrate()
            return await work(store)
        finally:
            await store.close()

    try:
        return 0, asyncio.run(run())
    except Exception as exc:
        reason = (str(exc).splitlines() or [""])[0] or type(exc).__name__
        print(f"error: cannot reach the question log: {reason}", file=sys.stderr)
        return 1, None


def cmd_report(args: argparse.Namespace) -> int:
    from bot.report import build_report, format_report, report_json

    if args.days < 1:
        print("error: --days must be 1 or more", file=sys.stderr)
        return 2
    content = _load(args.path)
    if content is None:
        return 1
    code, report = _on_question_log(lambda store: build_report(store, content.engine, args.days))
    if report is None:
        return code
    # JSON in ASCII: a control character a member typed stays an escape, never reaches the terminal.
    print(json.dumps(report_json(report), indent=2) if args.json else format_report(report))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    user = args.user.strip()
    if not _SLACK_USER.fullmatch(user):
        # A typo would erase nobody and say so only as "deleted 0 rows": name the shape instead.
        print(f"error: --user takes a Slack user id, U or W then capitals and digits (U0123ABCD), not {user[:40]!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    code, deleted = _on_question_log(lambda store: store.forget(user))
    if deleted is None:
        return code
    rows = f"{deleted} row{'' if deleted == 1 else 's'}"
    print(f"deleted {rows} of that member (questions, feedback, hand-offs, labels taught from them)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """The release step: a schema change is in place, or the deploy stops, before new code serves. The
    bot also migrates at start, but there a database outage only degrades the log (answers go on)."""
    from bot.question_log_sql import describe_store

    async def describe(store: QuestionStore) -> str:
        return describe_store(store)

    code, where = _on_question_log(describe, hashing_note=False)
    if where is None:
        return code
    print(f"question log schema up to date: {where}")
    if _tools.on_platform_dyno and _tools.database_url is None:
        # On a platform dyno the disk is wiped at every restart and deploy: the log would not last.
        print(
            "warning: DATABASE_URL is not set, so the question log is a SQLite file on this dyno's disk, "
            "lost at every restart and deploy; give it a database (docs/operator-guide.md, Deploy, step 3)",
            file=sys.stderr,
        )
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    from bot.learn import learn_example

    learned = learn_example(args.path, args.question, args.intent_id, _commands())
    for problem in learned.problems:
        print(problem, file=sys.stderr)
    if learned.line is None:
        return 1
    print(f"{args.path}:{learned.line}: added as an example of '{args.intent_id}'; the running bot reloads it itself")
    for warning in learned.warnings:
        print(warning)
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    """Staff's labels (Teach, in Slack): list them, undo one, or write them into the content files."""
    if args.action == "list":
        code, labels = _on_question_log(lambda store: store.labels.read(include_undone=args.all))
        if labels is None:
            return code
        if args.json:
            for label in labels:
                row = {"id": label.id, "text": label.text, "intent": label.intent, "made_at": label.made_at.isoformat(),
                       "undone_at": label.undone_at and label.undone_at.isoformat(),
                       "exported_at": label.exported_at and label.exported_at.isoformat()}  # fmt: skip
                print(json.dumps(row))  # ASCII: a C1 control a member typed stays an escape, not a byte
            return 0
        if not labels:
            print("no labels" if args.all else "no labels (undone ones are listed with --all)")
        for label in labels:
            state = "undone" if label.undone_at else "exported" if label.exported_at else "in the database"
            # A member's words: one line, no terminal escapes (a label is built from what a member typed).
            text = for_terminal(label.text)
            print(f"{label.id:>5}  {label.made_at:%Y-%m-%d}  {label.intent or 'off-topic'}  ({state})  {text}")
        return 0
    if args.action == "undo":
        if args.id is None:
            print("error: undo needs the label's id (see `python -m bot labels list`)", file=sys.stderr)
            return 2
        code, undone = _on_question_log(lambda store: store.labels.undo(args.id))
        if undone is None:
            return code
        if not undone:
            print(f"error: no label {args.id} to undo (see `python -m bot labels list --all`)", file=sys.stderr)
            return 1
        print(f"label {args.id} undone; every instance unlearns it within LABEL_POLL_SECONDS")
        return 0
    return _export_labels(args.path)


def _export_labels(path: Path) -> int:
    from bot.learn import export_labels

    async def export(store: QuestionStore) -> tuple[int, list[str]]:
        pending = [label for label in await store.labels.read() if label.exported_at is None]
        if not pending:
            return 0, ["nothing to export: every label is in the files already"]
        result = await asyncio.to_thread(export_labels, path, pending, _commands())
        if result.problems:
            return 1, list(result.problems)
        done = [*result.written, *result.present]
        await store.labels.mark_exported(done)
        lines = [f"exported {len(result.written)} label(s) into {path}"
                 + (f" and {result.off_topic_file}" if result.off_topic_file else "")
                 + (f"; {len(result.present)} already there" if result.present else "")
                 + "; commit the change so git keeps it"]  # fmt: skip
        lines += [f"not exported: {why}" for why in result.skipped]
        return 0, lines

    code, outcome = _on_question_log(export)
    if outcome is None:
        return code
    status, lines = outcome
    for line in lines:
        print(line, file=sys.stderr if status else sys.stdout)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="NHS Confederation member-support bot")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="show what the bot would answer")
    ask.add_argument("questions", nargs="*", help="questions to ask; none: read them from stdin, one a line")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--path", type=Path, default=None, help="content file (default responses.yaml)")
    ask.add_argument(
        "--staff",
        action="store_true",
        help="act as staff: /messenger report and reload answer as they do for the content team in Slack "
        "(report reads the question log in DATABASE_URL); without it they are refused, as for a member",
    )
    ask.set_defaults(func=cmd_ask)
    check = sub.add_parser("check", help="validate the content file")
    check.add_argument("path", nargs="?", type=Path, default=None, help="content file (default responses.yaml)")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(func=cmd_check)
    ev = sub.add_parser("eval", help="measure matching against a labelled TSV file")
    ev.add_argument("file", type=Path, help="a labelled TSV file: question<TAB>intent id, or none")
    ev.add_argument("--path", type=Path, default=None, help="content file (default responses.yaml)")
    ev.add_argument(
        "--summary",
        action="store_true",
        help="print only the headline figures: top-1, off-topic, one click, asking back",
    )
    ev.add_argument(
        "--json",
        action="store_true",
        help="print every question's answer (intent, mode, confidence, topics offered) as JSON, to compare two runs",
    )
    ev.add_argument(
        "--min-accuracy", type=float, default=None, help="exit 1 when in-scope accuracy is under this (0-1)"
    )
    ev.add_argument(
        "--min-oos-recall",
        type=float,
        default=None,
        help="exit 1 when the share of off-topic questions sent to the fallback is under this (0-1)",
    )
    ev.add_argument(
        "--suggestion-floor",
        type=float,
        default=None,
        help="measure with this suggestion floor instead of settings.suggestion_floor",
    )
    ev.add_argument(
        "--without",
        action="append",
        default=[],
        choices=[n for n in STAGE_NAMES if n not in REQUIRED],
        help="skip this stage of the pipeline (repeatable): what is it worth?",
    )
    ev.set_defaults(func=cmd_eval)
    run = sub.add_parser("run", help="serve, or local mode without Slack credentials")
    run.add_argument(
        "--staff",
        action="store_true",
        help="local mode only: act as staff (STAFF_USER_IDS names you), so /messenger report and reload work",
    )
    run.set_defaults(func=cmd_run)
    sb = sub.add_parser("sandbox", help="a local Slack page for staff: the real bot, rendered as Slack shows it")
    sb.add_argument("--port", type=int, default=3001, help="the page's port on 127.0.0.1 (default 3001)")
    sb.add_argument("--path", type=Path, default=None, help="content file (default responses.yaml)")
    sb.set_defaults(func=cmd_sandbox)
    rep = sub.add_parser("report", help="what members asked, how it went, and what the bot could not answer")
    rep.add_argument("--days", type=int, default=7, help="how many days back (default 7)")
    rep.add_argument("--json", action="store_true", help="one JSON object")
    rep.add_argument("--path", type=Path, default=None, help="content file (default responses.yaml)")
    rep.set_defaults(func=cmd_report)
    fg = sub.add_parser("forget", help="delete every stored row of one member (right to erasure)")
    fg.add_argument("--user", required=True, help="the member's Slack user id (U...)")
    fg.set_defaults(func=cmd_forget)
    ln = sub.add_parser("learn", help="add a question as a new example of an intent in the content file")
    ln.add_argument("question", help="the question, as a member asked it")
    ln.add_argument("intent_id", help="the intent it should get (an id from responses.yaml)")
    ln.add_argument("--path", type=Path, default=None, help="content file (default responses.yaml)")
    ln.set_defaults(func=cmd_learn)
    lb = sub.add_parser("labels", help="staff's labels from Teach: list, undo one, or export them into the content")
    lb.add_argument("action", choices=["list", "undo", "export"], help="list | undo ID | export")
    lb.add_argument("id", nargs="?", type=int, help="the label to undo (undo only)")
    lb.add_argument("--all", action="store_true", help="list: undone labels too")
    lb.add_argument("--json", action="store_true", help="list: one JSON object per label")
    lb.add_argument("--path", type=Path, default=None, help="export: content file (default responses.yaml)")
    lb.set_defaults(func=cmd_labels)
    mg = sub.add_parser("migrate", help="bring the question log's schema up to date (the Procfile's release step)")
    mg.set_defaults(func=cmd_migrate)
    args = parser.parse_args(argv)
    global _tools
    try:
        _tools = tool_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "path", False) is None:  # the content file: RESPONSES_PATH, else responses.yaml
        args.path = _tools.responses_path
    return args.func(args)


if __name__ == "__main__":
    # Piped into `head` and the like: end quietly when the reader goes, as other command-line tools do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
