"""`python -m bot ask|check|eval|run` and app.py start-up, run as real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.settings import PROJECT_DIR
from intents import load_catalogue
from tests.conftest import RESPONSES, run_cli


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    base.update(env or {})
    return run_cli(list(args), cwd=PROJECT_DIR, env=base, stdin=stdin, timeout=timeout)


def test_ask_json_one_object_per_question_in_order() -> None:
    result = run("-m", "bot", "ask", "--json", "recommendation 4", "what's the weather like")
    assert result.returncode == 0, result.stderr
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["question"] == "recommendation 4" and first["intent"] == "rec_appraisal"
    assert set(first) == {"question", "intent", "confidence", "mode", "alternatives", "text", "links"}
    assert first["links"][0]["url"].startswith("https://")
    assert "appraisal" in first["text"].lower()
    assert second["intent"] is None and "don't know" in second["text"]


def test_ask_reads_questions_from_stdin() -> None:
    result = run("-m", "bot", "ask", "--json", stdin="key points\n\nwho led the review\n")
    intents = [json.loads(line)["intent"] for line in result.stdout.splitlines()]
    assert intents == ["key_points", "review_people"]


def test_ask_plain_shows_intent_confidence_and_reply() -> None:
    result = run("-m", "bot", "ask", "is the nhs over-managed")
    assert "intent:       nhs_under_managed" in result.stdout
    assert "confidence:" in result.stdout and "under-managed" in result.stdout


def test_check_is_quiet_and_zero_on_the_shipped_file() -> None:
    result = run("-m", "bot", "check", str(RESPONSES))
    assert result.returncode == 0, result.stdout
    assert result.stdout == "" and result.stderr == ""


def test_check_reports_file_line_column_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "responses.yaml"
    text = RESPONSES.read_text(encoding="utf-8").replace(
        "  - id: rec_appraisal\n", "  - id: rec_appraisal\n    colour: red\n", 1
    )
    broken.write_text(text, encoding="utf-8")
    result = run("-m", "bot", "check", str(broken))
    assert result.returncode == 1
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t == "    colour: red")
    assert f"{broken}:{line}:5: intent 'rec_appraisal': unknown field 'colour'" in result.stdout


# A blind set: measured on, never trained or tuned on.
EVAL_SET = Path(__file__).parent / "data" / "blind.tsv"


def test_eval_prints_accuracy_and_gates_on_thresholds() -> None:
    result = run("-m", "bot", "eval", str(EVAL_SET))
    assert result.returncode == 0
    assert "in-scope top-1 accuracy:" in result.stdout and "out-of-scope recall:" in result.stdout
    assert "rec_appraisal" in result.stdout
    failing = run("-m", "bot", "eval", str(EVAL_SET), "--min-accuracy", "1.01")
    assert failing.returncode == 1
    assert "FAILED: accuracy" in failing.stderr


def test_eval_json_gives_each_questions_answer_in_file_order() -> None:
    """What `--json` prints is what the bot answers: run it before and after a change to compare answers
    question by question. Its figures agree with the answers it lists."""
    result = run("-m", "bot", "eval", str(EVAL_SET), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    rows = [line.split("\t") for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if not r[0].startswith("#")]
    assert [a["question"] for a in printed["answers"]] == [r[0] for r in rows]
    in_scope = [a for a in printed["answers"] if a["expected"] is not None]
    assert printed["accuracy"] == sum(a["intent"] == a["expected"] for a in in_scope) / len(in_scope)
    asked = json.loads(run("-m", "bot", "ask", "--json", in_scope[0]["question"]).stdout.splitlines()[0])
    assert asked["intent"] == in_scope[0]["intent"]


def test_eval_reports_fallback_suggestions_at_any_floor() -> None:
    dev_set = EVAL_SET
    shipped = run("-m", "bot", "eval", str(dev_set))
    assert "fallback suggestions (suggestion floor 0.1):" in shipped.stdout
    assert "off-topic fallbacks showing suggestions:" in shipped.stdout and "suggestion hit rate" in shipped.stdout
    loose = run("-m", "bot", "eval", str(dev_set), "--suggestion-floor", "0")
    assert loose.returncode == 0 and "fallback suggestions (suggestion floor 0):" in loose.stdout

    def off_topic_suggested(stdout: str) -> int:
        line = next(t for t in stdout.splitlines() if "off-topic fallbacks showing suggestions:" in t)
        return int(line.split(":")[1].split("/")[0])

    assert off_topic_suggested(loose.stdout) > off_topic_suggested(shipped.stdout)
    above = run("-m", "bot", "eval", str(EVAL_SET), "--suggestion-floor", "0.5")
    assert above.returncode == 2
    assert "--suggestion-floor must be from 0 up to the confidence threshold (0.3)" in above.stderr


def test_eval_without_a_stage_measures_it(tmp_path: Path) -> None:
    labelled = tmp_path / "status.tsv"
    labelled.write_text("has the national induction been introduced yet?\tsince_2022\n", encoding="utf-8")
    without = run("-m", "bot", "eval", str(EVAL_SET), "--summary", "--without", "status")
    assert without.returncode == 0 and "in-scope top-1 accuracy:" in without.stdout
    refused = run("-m", "bot", "eval", str(EVAL_SET), "--without", "classify")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr


def test_check_reports_a_bad_link_inside_text_where_it_is_written(tmp_path: Path) -> None:
    broken = tmp_path / "responses.yaml"
    text = RESPONSES.read_text(encoding="utf-8").replace("<https://www.nhsconfed.org/|", "<http://www.nhsconfed.org/|")
    broken.write_text(text, encoding="utf-8")
    result = run("-m", "bot", "check", str(broken))
    assert result.returncode == 1
    line, column = next((n, t.index("<http:") + 1) for n, t in enumerate(text.splitlines(), 1) if "<http:" in t)
    assert (
        f"{broken}:{line}:{column}: settings.contact_text: link must be a full https:// address (or mailto:), "
        "found 'http://www.nhsconfed.org/'" in result.stdout
    )


def test_eval_rejects_unknown_labels(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello\tno_such_intent\n", encoding="utf-8")
    result = run("-m", "bot", "eval", str(bad))
    assert result.returncode == 2
    assert f"{bad}:1: unknown intent id 'no_such_intent'" in result.stderr


def test_app_refuses_to_start_without_settings_and_names_the_variable() -> None:
    result = run("app.py", env={"SLACK_BOT_TOKEN": "xoxb-123"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: SLACK_SIGNING_SECRET is not set (Basic Information > App Credentials in your Slack app)"
    ]
    result = run("app.py", env={"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32, "PORT": "http"})
    assert result.returncode == 2 and "PORT must be a whole number" in result.stderr
    result = run(
        "app.py", env={"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32, "RESPONSES_PATH": "/nope.yaml"}
    )
    assert result.returncode == 2 and "RESPONSES_PATH" in result.stderr
    result = run(
        "app.py", env={"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32, "REDIS_URL": "http://x"}
    )
    assert result.returncode == 2 and "REDIS_URL must be a redis://" in result.stderr


def test_app_refuses_broken_content_with_line_numbers(tmp_path: Path) -> None:
    broken = tmp_path / "responses.yaml"
    broken.write_text("settings: {}\nintents: []\n", encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32, "RESPONSES_PATH": str(broken)}
    result = run("app.py", env=env)
    assert result.returncode == 2
    assert f"{broken}:1:11: settings: missing field 'confidence_threshold'" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_healthz_on_port(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32, "PORT": str(port),
                "SLACK_API_URL": "http://127.0.0.1:9/api/",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'questions.sqlite3'}"})  # fmt: skip
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_DIR, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "app did not start"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_local_mode_answers_typed_questions(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    # A pasted list, longer than a member's rate limit (10 in 10 s): every line is answered, none waits.
    pasted = "".join(f"tell me about recommendation {n}\n" for n in range(1, 8)) * 2
    result = run(
        "-m", "bot", "run", stdin=f"recommendation 4\n{pasted}/keypoints\nquit\n",
        env={"PORT": "0", "DATABASE_URL": database},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Local mode" in out and "SLACK_BOT_TOKEN" in out
    assert "RECOMMENDATION 4: A SIMPLER, STANDARD APPRAISAL" in out
    assert "[Parliamentary answer (November 2023)] -> https://www.parallelparliament.co.uk/question/1917" in out
    assert "Our key points" in out and "[Share in channel]" in out
    assert "(no reply)" not in out and "faster than I can answer" not in out and out.count("\nyou> ") == 17


def _with_examples(tmp_path: Path, intent: str, examples: list[str]) -> tuple[Path, str]:
    text = RESPONSES.read_text(encoding="utf-8")
    anchor = f"  - id: {intent}\n"
    start = text.index(anchor)
    marker = text.index("    examples:\n", start) + len("    examples:\n")
    text = text[:marker] + "".join(f"      - {e}\n" for e in examples) + text[marker:]
    path = tmp_path / "responses.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_check_warns_about_misrouted_examples(tmp_path: Path) -> None:
    path, text = _with_examples(tmp_path, "thanks", ["what are the key points of the messenger review"])
    result = run("-m", "bot", "check", str(path))
    assert result.returncode == 0  # warnings alone do not fail...
    line = text.splitlines().index("      - what are the key points of the messenger review") + 1
    expected = (f"{path}:{line}:9: warning: intent 'thanks' field 'examples': "
                "'what are the key points of the messenger review' is matched to 'key_points'")  # fmt: skip
    assert expected in result.stdout
    strict = run("-m", "bot", "check", "--strict", str(path))
    assert strict.returncode == 1  # ...unless --strict


def test_check_warns_about_overlapping_intents(tmp_path: Path) -> None:
    # Strays under thanks that each repeat one of key_points' own examples, a word apart: each one's
    # nearest example is key_points', so the two intents overlap.
    key_points = load_catalogue(RESPONSES).get("key_points")
    assert key_points is not None
    strays = [f"{example.rstrip('?.!')} again" for example in key_points.examples[:14]]
    path, _ = _with_examples(tmp_path, "thanks", strays)
    result = run("-m", "bot", "check", str(path))
    assert "warning: intents 'key_points' and 'thanks' overlap" in result.stdout


def test_forget_refuses_what_is_not_a_slack_user_id() -> None:
    result = run("-m", "bot", "forget", "--user", "bob@example.org")
    assert result.returncode == 2 and "takes a Slack user id" in result.stderr and result.stdout == ""


def test_ask_piped_into_a_reader_that_leaves_ends_quietly() -> None:
    """`python -m bot ask ... | head -1`: no BrokenPipeError trace when head has what it wants."""
    proc = subprocess.run(
        f"{sys.executable} -m bot ask | head -1", shell=True, cwd=PROJECT_DIR, input="key points\n" * 2000,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.stdout.startswith("question:") and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_staff_and_the_hand_off_channel_come_from_the_environment() -> None:
    from bot.settings import SettingsError, load_settings

    base = {"SLACK_BOT_TOKEN": "xoxb-123", "SLACK_SIGNING_SECRET": "a" * 32}
    settings = load_settings({**base, "STAFF_USER_IDS": "U0123ABCD, W0456EFGH", "STAFF_USERGROUP_IDS": "S0TEAM01",
                              "HANDOFF_CHANNEL": "C0STAFF01"})  # fmt: skip
    assert settings.staff_user_ids == ("U0123ABCD", "W0456EFGH") and settings.staff_usergroup_ids == ("S0TEAM01",)
    assert settings.handoff_channel == "C0STAFF01"
    assert load_settings(base).staff_user_ids == () and load_settings(base).handoff_channel is None
    for name, value, message in [
        (
            "STAFF_USER_IDS",
            "U0123ABCD,bob",
            "STAFF_USER_IDS takes Slack user ids (U0123ABCD), separated by commas; 'bob'",
        ),
        ("STAFF_USERGROUP_IDS", "U0123ABCD", "STAFF_USERGROUP_IDS takes Slack user group ids"),
        ("HANDOFF_CHANNEL", "#staff", "HANDOFF_CHANNEL takes one Slack channel id"),
        ("HANDOFF_CHANNEL", "C0STAFF01 C0STAFF02", "HANDOFF_CHANNEL takes one channel id, got 2"),
    ]:
        try:
            load_settings({**base, name: value})
        except SettingsError as exc:
            assert str(exc).startswith(message), str(exc)
        else:
            raise AssertionError(f"{name}={value!r} was accepted")


def test_ask_refuses_a_staff_sub_command_to_a_member_as_slack_does() -> None:
    result = run("-m", "bot", "ask", "/messenger report")
    assert result.returncode == 0, result.stderr
    assert "command:      report (staff only: refused; --staff acts as staff)" in result.stdout
    assert "Sorry, only the content team can see the question report." in result.stdout
    assert "Chris Ham" not in result.stdout  # not the review's answer to the word "report"
    reload = json.loads(run("-m", "bot", "ask", "--json", "/messenger reload").stdout)
    assert reload["command"] == "reload" and reload["refused"] is True
    assert reload["text"].startswith("Sorry, only the content team can reload")


def test_ask_as_staff_runs_the_staff_sub_commands(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'questions.sqlite3'}"}
    result = run("-m", "bot", "ask", "--staff", "/messenger report 30", env=env)
    assert result.returncode == 0, result.stderr
    assert "command:      report\n" in result.stdout and "Last 30 days" in result.stdout
    assert "questions:" in result.stdout and "Sorry" not in result.stdout
    reload = json.loads(run("-m", "bot", "ask", "--json", "--staff", "/messenger reload", env=env).stdout)
    assert reload["command"] == "reload" and "refused" not in reload
    assert reload["text"] == f"Reloaded responses.yaml: {len(load_catalogue(RESPONSES).intents)} intents in service."
    # A member's question that starts with the word is still a question, for staff too.
    question = json.loads(run("-m", "bot", "ask", "--json", "--staff", "/messenger report on the review").stdout)
    assert question["command"] != "report" and "refused" not in question


def test_local_mode_shows_button_labels_and_can_be_staff(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    env = {"PORT": "0", "DATABASE_URL": database}
    member = run("-m", "bot", "run", stdin="recommendation 4\n/messenger report\nquit\n", env=env)
    assert member.returncode == 0, member.stderr
    assert "[Helpful]" in member.stdout and "[Share in channel]" not in member.stdout
    assert "(button:" not in member.stdout and '"intent"' not in member.stdout  # no internal values
    assert "Sorry, only the content team can see the question report." in member.stdout
    assert "--staff" in member.stdout  # the intro says how to act as staff
    staff = run("-m", "bot", "run", "--staff", stdin="/messenger report\n/keypoints\nquit\n", env=env)
    assert staff.returncode == 0, staff.stderr
    assert "Last 7 days" in staff.stdout and "Sorry" not in staff.stdout
    assert "[Share in channel]" in staff.stdout and "(button:" not in staff.stdout
