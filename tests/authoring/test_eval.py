"""AUTHORING.md section 4, `ppdsl eval`: one expression's value for a visitor
(and a current event), with a file's declarations in scope, printed as a
template prints it; errors as diagnostics. In-process through
ppdsl.authoring.evaluate, and through the installed command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ppdsl.authoring.evaluate import CompileError, RejectedEvent, evaluate

T0_ISO = "2026-11-25T08:00:00Z"
T0 = datetime(2026, 11, 25, 8, tzinfo=timezone.utc)

LEAD = """\
event 1 click
event 2 view_pricing alias "view-pricing"
event 3 signup
agent agent_a
field score int
segment hot = count(view_pricing) > 8 and count(signup) > 8
segment engaged = count(click) > 3 or user_web_sessions >= 2
on event click, view_pricing -> if hot reply agent_a "Hi {{ score }}"
"""
CHINESE = """\
event 1 点击
event 2 查看价格页 alias "查看 价格"
field 积分 int
segment 活跃 = count(点击) > 2
on event 点击 -> set 积分 = (积分 or 0) + 1
"""
VISITOR = {
    "user_fullname": "Li Lei",
    "user_web_sessions": 1,
    "score": 7,
    "event_count_2": 8,
    "event_count_3": 9,
    "event_first_time_2": "2026-11-20T08:00:00Z",
    "event_last_time_2": "2026-11-24T17:30:00Z",
}


@pytest.fixture
def lead(tmp_path):
    path = tmp_path / "lead.ppflow"
    path.write_text(LEAD, encoding="utf-8")
    return path


@pytest.fixture
def visitor_file(tmp_path):
    path = tmp_path / "li_lei.json"
    path.write_text(json.dumps(VISITOR), encoding="utf-8")
    return path


# ----------------------------------------------------------------- in-process


@pytest.mark.parametrize(
    "expr, text, type_, as_json",
    [
        ("42", "42", "int", 42),
        ("-7 % 3", "2", "int", 2),
        ("7 / 2", "3.5", "float", 3.5),
        ("6 / 2", "3.0", "float", 3.0),
        ('"hi"', "hi", "string", "hi"),
        ('"你好"', "你好", "string", "你好"),
        ("true", "true", "bool", True),
        ("False", "false", "bool", False),
        ("null", "", "null", None),
        ("None", "", "null", None),
        ("10m", "600s", "duration", 600),
        ("-5m", "-300s", "duration", -300),
        ("1w", "604800s", "duration", 604800),
        ("now", T0_ISO, "datetime", T0_ISO),
        ("now - 1d", "2026-11-24T08:00:00Z", "datetime", "2026-11-24T08:00:00Z"),
        ("now - now", "0s", "duration", 0),
        ("[1, 'a', null, 2.5, true, 5m]", '[1,"a",null,2.5,true,300]', "list", [1, "a", None, 2.5, True, 300]),
        ("[]", "[]", "list", []),
        ('json(\'{"b": [1, "中"], "a": null}\')', '{"b":[1,"中"],"a":null}', "json", {"b": [1, "中"], "a": None}),
        ("json('3')", "3", "json", 3),
        ("1 < 2 <= 2", "true", "bool", True),
        ("null or 5m", "300s", "any", 300),
        ("str(10m)", "600s", "string", "600s"),
        ("1 / 0", "", "float", None),
        ('upper("straße")', "STRASSE", "string", "STRASSE"),
        ("len([1, 2, 3])", "3", "int", 3),
    ],
)
def test_every_value_type_prints_as_a_template_would(expr, text, type_, as_json):
    result = evaluate(expr, at=T0_ISO)
    assert (result.text, result.type, result.json) == (text, type_, as_json)


def test_the_raw_value_is_the_runtimes():
    assert evaluate("10m").value == timedelta(minutes=10)
    assert evaluate("now", at=T0_ISO).value == T0
    assert evaluate("now", at=1795593600).value == T0


def test_now_without_at_is_the_time_of_the_call():
    before = datetime.now(timezone.utc)
    value = evaluate("now").value
    assert before - timedelta(seconds=1) <= value <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_statistics_read_the_visitor_as_it_is_without_an_event():
    result = evaluate("count(2)", visitor=VISITOR)
    assert (result.value, result.event) == (8, None)
    assert evaluate("count(5)", visitor=VISITOR).value == 0  # a missing count is 0
    assert evaluate("first_time(2)", visitor=VISITOR).text == "2026-11-20T08:00:00Z"
    assert evaluate("count(2) > 8 and count(3) > 8", visitor=VISITOR).value is False
    assert VISITOR["event_count_2"] == 8  # never changed


def test_with_an_event_its_statistics_are_updated_first(lead):
    event = {"event_name": "view_pricing"}
    result = evaluate("count(view_pricing)", file=lead, visitor=VISITOR, event=event, at=T0_ISO)
    assert result.value == 9
    assert result.event == {"seq": 2, "name": "view_pricing", "uuid": None, "count": 9, "time": T0_ISO}
    assert evaluate("last_time(view_pricing) == now", file=lead, visitor=VISITOR, event=event).value is True
    assert evaluate("hot", file=lead, visitor=VISITOR, event=event).value is True
    assert evaluate("hot", file=lead, visitor=VISITOR).value is False  # 8 > 8 without this event
    assert evaluate("first_time(2)", file=lead, visitor=VISITOR, event=event).text == "2026-11-20T08:00:00Z"


def test_the_event_variables_are_there_with_an_event(lead):
    event = {"track_event": {"event_name": "view-pricing", "event_data": {"plan": "pro", "seats": [3, 5]}}}
    assert evaluate("data.plan", file=lead, event=event).text == "pro"
    assert evaluate("data.seats[-1] * 2", file=lead, event=event).value == 10
    assert evaluate("track_event_data", file=lead, event=event).text == '{"plan":"pro","seats":[3,5]}'
    assert evaluate("track_event_seq", file=lead, event=event).value == 2
    assert evaluate("track_event_count", file=lead, visitor=VISITOR, event=event).value == 9
    assert evaluate("now", event={"event_seq": 1, "event_timestamp": 1795593600}).text == T0_ISO
    assert evaluate("now", event={"event_seq": 1}, at=T0_ISO).text == T0_ISO


def test_the_files_declarations_are_in_scope(lead):
    assert evaluate("engaged", file=lead, visitor={"event_count_1": 4}).value is True
    assert evaluate("engaged", file=lead, visitor={"event_count_1": 1}).value is False
    assert evaluate("score + 1", file=lead, visitor=VISITOR).value == 8
    assert evaluate("score", file=lead).type == "int"
    assert evaluate("count(signup) + count(3)", file=lead, visitor=VISITOR).value == 18


def test_segments_that_use_segments_durations_and_patterns(tmp_path):
    path = tmp_path / "seg.ppflow"
    path.write_text(
        "event 1 click\n"
        "field last_nudge datetime\n"
        "segment recent = exists(last_nudge) and now - last_nudge < 10m\n"
        'segment quiet = not recent and matches(page_url or "", "^/pricing")\n'
        "on event click -> if quiet set last_nudge = now\n",
        encoding="utf-8",
    )
    visitor = {"page_url": "/pricing/team", "last_nudge": "2026-11-25T07:55:00Z"}
    result = evaluate("[quiet, recent, now - last_nudge, 1h]", file=path, visitor=visitor, at=T0_ISO)
    assert (result.text, result.json) == ("[false,true,300,3600]", [False, True, 300, 3600])
    assert evaluate("quiet", file=path, visitor=visitor, at="2026-11-25T09:00:00Z").value is True


def test_chinese_names(tmp_path):
    path = tmp_path / "中文.ppflow"
    path.write_text(CHINESE, encoding="utf-8")
    visitor = {"积分": 5, "event_count_1": 2}
    assert evaluate("积分 + count(点击)", file=path, visitor=visitor).value == 7
    assert evaluate("活跃", file=path, visitor=visitor).value is False
    assert evaluate("活跃", file=path, visitor=visitor, event={"event_name": "点击"}).value is True
    assert evaluate("count(查看价格页)", file=path, event={"event_name": "查看 价格"}).value == 1


def test_type_errors_are_diagnostics_on_the_expression():
    with pytest.raises(CompileError) as info:
        evaluate('count(2) > "8"')
    (d,) = info.value.diagnostics
    assert (d.code, d.file, d.line, d.col) == ("E124", "<expr>", 1, 1)
    assert "write numbers without quotes" in d.help


@pytest.mark.parametrize("name", ["data", "track_event_seq", "track_event_uuid", "track_event_count"])
def test_names_of_the_current_event_need_an_event(name):
    with pytest.raises(CompileError) as info:
        evaluate(f"{name} == null")
    (d,) = info.value.diagnostics
    assert d.code == "E101"
    assert "--event" in d.help


def test_a_segment_that_reads_the_event_needs_an_event(tmp_path):
    path = tmp_path / "seg.ppflow"
    path.write_text("segment pro = data.plan == 'pro'\non event 1 -> if pro end\n", encoding="utf-8")
    with pytest.raises(CompileError) as info:
        evaluate("pro", file=path)
    (d,) = info.value.diagnostics
    assert (d.code, d.file, d.line, d.col) == ("E101", str(path), 1, 15)
    assert evaluate("pro", file=path, event={"event_seq": 1, "event_data": {"plan": "pro"}}).value is True


def test_errors_of_the_file_are_the_files(tmp_path):
    path = tmp_path / "bad.ppflow"
    path.write_text("on event 1 -> set x = 1\n", encoding="utf-8")
    with pytest.raises(CompileError) as info:
        evaluate("1", file=path)
    assert [d.code for d in info.value.diagnostics] == ["E101"]
    assert info.value.diagnostics[0].file == str(path)


def test_unknown_events_and_names_get_their_hints(lead):
    with pytest.raises(CompileError) as info:
        evaluate("count(view_pricng) + scroe", file=lead)
    helps = [(d.code, d.help) for d in info.value.diagnostics]
    assert helps == [("E103", "did you mean 'view_pricing'?"), ("E101", "did you mean 'score'?")]


@pytest.mark.parametrize("expr", ["", "1 +", "1 2", "count(2) > 8 reply", "x = 1", "“a”"])
def test_syntax_errors_are_diagnostics(expr):
    with pytest.raises(CompileError) as info:
        evaluate(expr)
    assert info.value.diagnostics[0].code in ("E001", "E002")
    assert info.value.diagnostics[0].file == "<expr>"


def test_expression_warnings_come_back_with_the_value():
    result = evaluate('1 == "a"')
    assert result.value is False
    assert [d.code for d in result.warnings] == ["W203"]


def test_a_rejected_event_raises(lead):
    with pytest.raises(RejectedEvent, match="unknown event_name"):
        evaluate("1", file=lead, event={"event_name": "nope"})
    with pytest.raises(RejectedEvent, match="event_count_2"):
        evaluate("1", file=lead, visitor={"event_count_2": "many"}, event={"event_seq": 2})


def test_too_deep_is_a_diagnostic():
    with pytest.raises(CompileError) as info:
        evaluate("(" * 200 + "1" + ")" * 200)
    assert info.value.diagnostics[0].code == "E005"


# ----------------------------------------------------------------- the command


def test_cli_prints_the_value(cli, lead, visitor_file):
    proc = cli("eval", "count(view_pricing) + 1", "--file", lead, "--visitor", visitor_file)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "9\n", "")
    proc = cli("eval", "count(view_pricing)", "--file", lead, "--visitor", visitor_file, "--event", "view_pricing")
    assert (proc.returncode, proc.stdout) == (0, "9\n")
    proc = cli("eval", "hot", "-f", lead, "--visitor", visitor_file, "-e", "2")
    assert proc.stdout == "true\n"


@pytest.mark.parametrize(
    "expr, out",
    [
        ("null", "\n"),
        ("true", "true\n"),
        ("7 / 2", "3.5\n"),
        ("300s", "300s\n"),
        ("now", T0_ISO + "\n"),
        ("['a', 1, null]", '["a",1,null]\n'),
        ('json(\'{"k": "值"}\')', '{"k":"值"}\n'),
        ('"你好\\n世界"', "你好\n世界\n"),
    ],
)
def test_cli_prints_every_type_as_a_template(cli, expr, out):
    proc = cli("eval", expr, "--at", T0_ISO)
    assert (proc.returncode, proc.stdout) == (0, out), proc.stderr


def test_cli_json(cli, lead, visitor_file):
    def value(*args):
        proc = cli("eval", *args, "--json", "--at", T0_ISO)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert value("10m") == {"value": 600, "type": "duration"}
    assert value("now") == {"value": T0_ISO, "type": "datetime"}
    assert value("null") == {"value": None, "type": "null"}
    assert value("'中'") == {"value": "中", "type": "string"}
    assert value("[1, now]") == {"value": [1, T0_ISO], "type": "list"}
    assert value("data", "--event", '{"event_seq": 1, "event_data": {"a": [1]}}') == {
        "value": {"a": [1]},
        "type": "json",
    }
    assert value("engaged", "--file", lead, "--visitor", visitor_file) == {"value": False, "type": "bool"}


def test_cli_event_time_and_at(cli):
    proc = cli("eval", "now", "--event", "1", "--at", "1795593600")
    assert proc.stdout == T0_ISO + "\n"
    proc = cli("eval", "now", "--event", '{"event_seq": 1, "event_timestamp": 1795593600}', "--at", "0")
    assert proc.stdout == T0_ISO + "\n"
    assert "--at is ignored" in proc.stderr


def test_cli_type_error_is_a_diagnostic_with_a_caret(cli):
    proc = cli("eval", 'len(5) + "x"')
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[:4] == [
        "<expr>:1:5: error[E124]: type error: len() takes string or list, not int",
        "  |",
        '1 | len(5) + "x"',
        "  |     ^",
    ]
    assert "<expr>: 2 errors, 0 warnings" in proc.stderr


def test_cli_event_names_without_an_event(cli):
    proc = cli("eval", "data.plan")
    assert proc.returncode == 1
    assert "unknown name 'data'" in proc.stderr
    assert "pass --event" in proc.stderr


def test_cli_chinese_caret_lines_up(cli, tmp_path):
    path = tmp_path / "cn.ppflow"
    path.write_text(CHINESE, encoding="utf-8")
    proc = cli("eval", "积分 > 活", "--file", path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "<expr>:1:6: error[E101]: unknown name '活'"
    assert lines[2:4] == ["1 | 积分 > 活", "  |        ^^"]
    proc = cli("eval", "积分 * 2", "--file", path, "--visitor", _write(tmp_path, {"积分": 21}))
    assert (proc.returncode, proc.stdout) == (0, "42\n")


def test_cli_warnings_go_to_stderr(cli):
    proc = cli("eval", 'count(2) == "8"')
    assert (proc.returncode, proc.stdout) == (0, "false\n")
    assert "warning[W203]" in proc.stderr


def test_cli_rejected_event_exits_1(cli, lead, tmp_path):
    proc = cli("eval", "1", "--file", lead, "--event", "checkout")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith('error: unknown event_name "checkout"; known events: 1 click')
    bad = _write(tmp_path, {"event_count_1": -1})
    proc = cli("eval", "1", "--visitor", bad, "--event", "1")
    assert proc.returncode == 1
    assert "event_count_1" in proc.stderr


def test_cli_errors_in_the_file_exit_1(cli, tmp_path):
    path = tmp_path / "bad.ppflow"
    path.write_text("event 1 click\non event clik -> end\n", encoding="utf-8")
    proc = cli("eval", "1", "--file", path)
    assert proc.returncode == 1
    assert "error[E103]: unknown event 'clik'" in proc.stderr
    assert f"{path}: 1 error, 0 warnings" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["1", "--event", "{"],
        ["1", "--event", ""],
        ["1", "--at", "yesterday"],
        ["1", "--at", "1795593600000"],
        ["1", "--visitor", "/nonexistent/v.json"],
        ["1", "--file", "/nonexistent/f.ppflow"],
        ["-5m"],
        ["1", "--bogus"],
    ],
)
def test_cli_bad_usage_exits_2(cli, args):
    proc = cli("eval", *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""


def test_cli_malformed_visitor_exits_2(cli, tmp_path):
    path = tmp_path / "v.json"
    path.write_text("[1, 2]", encoding="utf-8")
    proc = cli("eval", "1", "--visitor", path)
    assert proc.returncode == 2
    assert "--visitor" in proc.stderr


def test_cli_expression_starting_with_a_minus(cli):
    proc = cli("eval", "--", "-5m")
    assert (proc.returncode, proc.stdout) == (0, "-300s\n")


def test_cli_event_from_stdin(cli):
    proc = cli("eval", "data.n + 1", "--event", "@-", input='{"event_seq": 4, "event_data": {"n": 41}}')
    assert (proc.returncode, proc.stdout) == (0, "42\n"), proc.stderr


def test_cli_control_characters_are_not_printed(cli):
    proc = cli("eval", "data", "--event", json.dumps({"event_seq": 1, "event_data": "a\x1b[31mb"}))
    assert proc.returncode == 0
    assert "\x1b" not in proc.stdout


def _write(tmp_path, visitor: dict) -> str:
    path = tmp_path / "visitor.json"
    path.write_text(json.dumps(visitor, ensure_ascii=False), encoding="utf-8")
    return str(path)
