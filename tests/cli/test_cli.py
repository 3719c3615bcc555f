"""LANGUAGE.md sections 7, 8 (exit status) and 9 through the installed `ppdsl`
command: `run` output and options, `compile -o`, and every command's --help."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from conftest import ppdsl_command

T0 = 1795593600  # 2026-11-25T08:00:00Z
T0_ISO = "2026-11-25T08:00:00Z"

# Section 1's program, written out with declarations: the reply to agent_a is on line 12.
LEAD = """\
# Events defined in Settings > Customer management > Visitor fields (at most 8)
event 1 click        uuid "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a" "Any click on the page"
event 2 view_pricing uuid "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4"
event 3 signup       uuid "9d8c7b6a-5f4e-4d3c-8b2a-1a0f9e8d7c6b"

agent agent_a "Alice (senior sales)"
agent agent_b "Bob"

flow lead_routing {
  on event click, view_pricing ->
    if count(view_pricing) > 8 and count(signup) > 8
      reply agent_a "Hi {{ user_fullname }}, shall we book a demo?"
    else
      reply agent_b "Hello! Anything I can help you with?"
  on event signup -> end
}
"""
PRICING_UUID = "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4"

VISITOR = {
    "user_fullname": "Li Lei",
    "user_email": "li.lei@example.com",
    "event_count_2": 8,
    "event_first_time_2": "2026-11-20T08:00:00Z",
    "event_last_time_2": "2026-11-24T17:30:00Z",
    "event_last_data_2": '{"plan":"pro"}',
    "event_count_3": 9,
    "event_first_time_3": "2026-11-21T09:00:00Z",
    "event_last_time_3": "2026-11-24T18:00:00Z",
}

HOT_REPLY = {
    "flow": "lead_routing",
    "line": 12,
    "type": "reply",
    "agent": "agent_a",
    "text": "Hi Li Lei, shall we book a demo?",
}

FAILING = """\
agent agent_a
agent agent_b
group sales
flow routing {
  on event 1 -> {
    reply agent_a "hello" on failure -> assign group sales on failure -> reply agent_b "sorry"
    ticket "after {{ track_event_count }}"
  }
  on event 2 -> {
    reply agent_a "no handler"
    ticket "never"
  }
}
flow later { on any event -> assign any }
"""


@pytest.fixture
def lead(tmp_path):
    path = tmp_path / "lead.ppflow"
    path.write_text(LEAD, encoding="utf-8")
    return path


@pytest.fixture
def visitor_file(tmp_path):
    path = tmp_path / "li_lei.json"
    path.write_text(json.dumps(VISITOR, indent=4), encoding="utf-8")
    return path


def run_json(cli, *args):
    proc = cli("run", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ----------------------------------------------------------------- run --json


def test_run_json_prints_exactly_one_object_of_the_documented_shape(cli, lead, visitor_file):
    event = {"track_event": {"event_name": "view_pricing", "event_timestamp": T0}}
    proc = cli("run", lead, "--event", json.dumps(event), "--visitor", visitor_file, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {
        "event": {"seq": 2, "name": "view_pricing", "uuid": PRICING_UUID, "count": 9, "time": T0_ISO},
        "actions": [HOT_REPLY],
        "failed": [],
        "visitor": {**VISITOR, "event_count_2": 9, "event_last_time_2": T0_ISO, "event_last_data_2": None},
    }
    assert set(result) == {"event", "actions", "failed", "visitor"}


def test_run_json_with_event_data_and_no_visitor(cli, lead):
    event = {"track_event": {"event_uuid": PRICING_UUID, "event_data": {"plan": "企业"}, "event_timestamp": T0 + 0.5}}
    result = run_json(cli, lead, "--event", json.dumps(event, ensure_ascii=False))
    time_text = "2026-11-25T08:00:00.500000Z"
    assert result == {
        "event": {"seq": 2, "name": "view_pricing", "uuid": PRICING_UUID, "count": 1, "time": time_text},
        "actions": [
            {
                "flow": "lead_routing",
                "line": 14,
                "type": "reply",
                "agent": "agent_b",
                "text": "Hello! Anything I can help you with?",
            }
        ],
        "failed": [],
        "visitor": {
            "event_count_2": 1,
            "event_first_time_2": time_text,
            "event_last_time_2": time_text,
            "event_last_data_2": '{"plan":"企业"}',
        },
    }


@pytest.mark.parametrize("command", ["run", "check"])
def test_json_is_utf8_whatever_the_encoding_of_stdout(lead, tmp_path, command):
    """Under PYTHONIOENCODING=cp1252 an emoji used to come out as \\U0001f600, which is not JSON (item 10)."""
    if command == "run":
        event = {"event_name": "click", "event_data": {"mood": "😀 é"}, "event_timestamp": T0}
        args = ["run", str(lead), "--event", json.dumps(event, ensure_ascii=False), "--json"]
    else:
        (tmp_path / "😀.ppflow").write_text("agent a\n", encoding="utf-8")
        args = ["check", "--format", "json", str(tmp_path / "😀.ppflow")]
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    proc = subprocess.run([*ppdsl_command(), *args], capture_output=True, env=env, timeout=120)
    result = json.loads(proc.stdout.decode("utf-8"))
    if command == "run":
        assert proc.returncode == 0, proc.stderr
        assert result["visitor"]["event_last_data_1"] == '{"mood":"😀 é"}'
    else:
        assert result[0]["file"].endswith("😀.ppflow")


def test_failed_is_present_and_empty_when_nothing_ran(cli, lead):
    result = run_json(cli, lead, "--event", "signup", "--at", T0_ISO)
    assert result["actions"] == [] and result["failed"] == []
    assert result["event"]["name"] == "signup"


@pytest.mark.parametrize("form", ["json", "wrapped-json", "file", "seq", "name"])
def test_event_spec_forms(cli, lead, visitor_file, tmp_path, form):
    inner = {"event_name": "view_pricing", "event_timestamp": T0}
    if form == "json":
        spec = json.dumps(inner)
    elif form == "wrapped-json":
        spec = json.dumps({"track_event": inner})
    elif form == "file":
        path = tmp_path / "event.json"
        path.write_text(json.dumps({"track_event": inner}, indent=2), encoding="utf-8")
        spec = f"@{path}"
    elif form == "seq":
        spec = "2"
    else:
        spec = "view_pricing"
    result = run_json(cli, lead, "--event", spec, "--visitor", visitor_file, "--at", T0_ISO)
    assert result["event"] == {"seq": 2, "name": "view_pricing", "uuid": PRICING_UUID, "count": 9, "time": T0_ISO}
    assert result["actions"] == [HOT_REPLY]


def test_bare_seq_in_a_file_without_declarations(cli, tmp_path):
    path = tmp_path / "oneliner.ppflow"
    path.write_text("on event 1,2 -> if count(2)>8 and count(3)>8 reply agent_a else reply agent_b\n", encoding="utf-8")
    result = run_json(cli, path, "--event", "2", "--at", str(T0))
    assert result["event"] == {"seq": 2, "name": None, "uuid": None, "count": 1, "time": T0_ISO}
    assert result["actions"] == [{"flow": "main", "line": 1, "type": "reply", "agent": "agent_b", "text": None}]


@pytest.mark.parametrize(
    "at,expected",
    [
        (T0_ISO, T0_ISO),
        ("2026-11-25T16:00:00+08:00", T0_ISO),
        (str(T0), T0_ISO),
        (f"{T0}.5", "2026-11-25T08:00:00.500000Z"),
        ("2026-11-25T08:00:00.250000Z", "2026-11-25T08:00:00.250000Z"),
    ],
)
def test_at_gives_the_time_of_an_event_without_one(cli, lead, at, expected):
    result = run_json(cli, lead, "--event", "click", "--at", at)
    assert result["event"]["time"] == expected
    assert result["visitor"]["event_first_time_1"] == expected


def test_event_timestamp_wins_over_at(cli, lead):
    event = json.dumps({"event_name": "click", "event_timestamp": T0 + 60})
    result = run_json(cli, lead, "--event", event, "--at", "2020-01-01T00:00:00Z")
    assert result["event"]["time"] == "2026-11-25T08:01:00Z"


def test_without_at_the_time_is_now(cli, lead):
    before = time.time()
    result = run_json(cli, lead, "--event", "click")
    after = time.time()
    text = result["event"]["time"]
    assert text.endswith("Z")
    when = datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc).timestamp()
    assert before - 1 <= when <= after + 1


# ----------------------------------------------------------------- --visitor and --save


def test_save_writes_the_updated_visitor(cli, lead, visitor_file):
    first = run_json(cli, lead, "--event", "view_pricing", "--at", T0_ISO, "--visitor", visitor_file, "--save")
    assert json.loads(visitor_file.read_text(encoding="utf-8")) == first["visitor"]
    assert first["visitor"]["event_count_2"] == 9
    second = run_json(
        cli, lead, "--event", "view_pricing", "--at", "2026-11-25T09:00:00Z", "--visitor", visitor_file, "--save"
    )
    assert second["event"]["count"] == 10
    saved = json.loads(visitor_file.read_text(encoding="utf-8"))
    assert saved == second["visitor"]
    assert saved["event_count_2"] == 10
    assert saved["event_first_time_2"] == "2026-11-20T08:00:00Z"
    assert saved["event_last_time_2"] == "2026-11-25T09:00:00Z"


def test_without_save_the_visitor_file_is_not_written(cli, lead, visitor_file):
    before = visitor_file.read_bytes()
    run_json(cli, lead, "--event", "view_pricing", "--at", T0_ISO, "--visitor", visitor_file)
    assert visitor_file.read_bytes() == before


def test_concurrent_saves_lose_no_update(lead, tmp_path):
    """20 runs at once on one visitor file: each read-modify-write takes its turn (item 2)."""
    visitor = tmp_path / "v.json"
    visitor.write_text("{}", encoding="utf-8")
    argv = [*ppdsl_command(), "run", str(lead), "--event", "click", "--visitor", str(visitor), "--save", "--json"]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(20)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0] * 20, outputs[0][1]
    assert json.loads(visitor.read_text(encoding="utf-8"))["event_count_1"] == 20
    assert sorted(json.loads(out)["event"]["count"] for out, _ in outputs) == list(range(1, 21))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lead.ppflow", "v.json", "v.json.lock"]  # the lock stays


def test_save_refuses_a_read_only_visitor_file(cli, lead, visitor_file):
    visitor_file.chmod(0o444)  # root may write it anyway: ppdsl goes by the owner's write bit
    before = visitor_file.read_bytes()
    proc = cli("run", lead, "--event", "click", "--visitor", visitor_file.name, "--save", cwd=visitor_file.parent)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "li_lei.json is read-only" in proc.stderr
    assert str(visitor_file.parent) not in proc.stderr  # the path as the user gave it
    assert visitor_file.read_bytes() == before
    assert visitor_file.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in visitor_file.parent.iterdir()) == ["lead.ppflow", "li_lei.json"]


def test_save_in_a_read_only_folder_names_the_folder(cli, lead, tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    visitor = folder / "v.json"
    visitor.write_text('{"event_count_1": 3}', encoding="utf-8")
    folder.chmod(0o555)
    try:
        proc = cli("run", lead, "--event", "click", "--visitor", "state/v.json", "--save", cwd=tmp_path)
        assert sorted(p.name for p in folder.iterdir()) == ["v.json"]
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2
    assert "the folder state is read-only" in proc.stderr
    assert str(tmp_path) not in proc.stderr
    assert visitor.read_text(encoding="utf-8") == '{"event_count_1": 3}'


@pytest.mark.parametrize("where", ["visitor", "event", "event-file"])
def test_numbers_json_cant_carry_are_refused_with_file_and_key(cli, lead, tmp_path, where):
    """1e400 would come back as Infinity, which JSON.parse rejects (item 11)."""
    visitor = tmp_path / "v.json"
    visitor.write_text('{"user_score": 1e400}' if where == "visitor" else "{}", encoding="utf-8")
    event = '{"event_name": "click", "event_data": {"score": 1e400}}'
    if where == "event-file":
        (tmp_path / "e.json").write_text(event, encoding="utf-8")
        event = "@e.json"
    elif where == "visitor":
        event = "click"
    before = visitor.read_bytes()
    proc = cli("run", lead, "--event", event, "--visitor", "v.json", "--save", "--json", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    name, key = {"visitor": ("v.json", "user_score"), "event": ("--event JSON", "event_data.score")}.get(
        where, ("e.json", "event_data.score")
    )
    assert f"{name}: {key} is 1e400, not a finite number" in proc.stderr
    assert "Out of range" not in proc.stderr and "Infinity" not in proc.stderr
    assert visitor.read_bytes() == before


def test_json_input_files_may_start_with_a_byte_order_mark(cli, lead, tmp_path):
    (tmp_path / "v.json").write_bytes(b'\xef\xbb\xbf{"user_fullname": "Li"}')
    (tmp_path / "e.json").write_bytes(b'\xef\xbb\xbf{"event_name": "click", "event_timestamp": 1795593600}')
    proc = cli("run", lead, "--event", "@e.json", "--visitor", "v.json", "--save", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["visitor"]["user_fullname"] == "Li"
    assert json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))["event_count_1"] == 1


def test_messages_show_what_the_user_gave_not_python_internals(cli, lead, tmp_path):
    proc = cli("run", lead, "--event", "click", "--at=-5")
    assert proc.returncode == 2
    assert "got -5\n" in proc.stderr and "-5.0" not in proc.stderr
    (tmp_path / "v.json").write_text('{"event_count_1": ' + "9" * 5000 + "}", encoding="utf-8")
    proc = cli("run", lead, "--event", "click", "--visitor", tmp_path / "v.json")
    assert proc.returncode == 2
    assert "event_count_1 is 9" in proc.stderr and "set_int_max_str_digits" not in proc.stderr


REJECTED = {
    "unknown-name": "nope",
    "unknown-seq": "7",
    "mismatch": json.dumps({"event_uuid": PRICING_UUID, "event_name": "click"}),
    "milliseconds": json.dumps({"event_name": "click", "event_timestamp": T0 * 1000}),
    "negative": json.dumps({"event_name": "click", "event_timestamp": -1}),
    "non-numeric": json.dumps({"event_name": "click", "event_timestamp": "yesterday"}),
    "too-big": json.dumps({"event_name": "click", "event_data": "x" * 65535}),
    "nothing": json.dumps({"track_event": {"event_data": 1}}),
}


@pytest.mark.parametrize("name", list(REJECTED))
def test_a_rejected_event_prints_error_exits_1_and_leaves_the_visitor_file(cli, lead, tmp_path, name):
    visitor = tmp_path / "v.json"
    original = b'{ "event_count_1" : 3,\n\n  "user_fullname": "Li Lei" }  \n'
    visitor.write_bytes(original)
    spec = REJECTED[name]
    if name == "too-big":
        (tmp_path / "big.json").write_text(spec, encoding="utf-8")
        spec = f"@{tmp_path / 'big.json'}"
    # -q: some payloads carry their own event_timestamp, for which --at gets a warning
    proc = cli("run", lead, "--event", spec, "--visitor", visitor, "--save", "--json", "--at", T0_ISO, "-q")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert visitor.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_rejected_event_without_json_prints_only_the_error(cli, lead):
    proc = cli("run", lead, "--event", "no_such_event", "--at", T0_ISO)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "no_such_event" in proc.stderr


def test_rejected_event_message_is_the_value_error_message(cli, lead, tmp_path):
    import ppdsl

    rules = ppdsl.load(lead, cache=False)
    payload = {"event_name": "click", "event_timestamp": T0 * 1000}
    with pytest.raises(ValueError) as info:
        rules.handle(payload)
    proc = cli("run", lead, "--event", json.dumps(payload))
    assert proc.returncode == 1
    assert proc.stderr.rstrip("\n") == f"error: {info.value}"


# ----------------------------------------------------------------- --fail


@pytest.fixture
def failing(tmp_path):
    path = tmp_path / "failing.ppflow"
    path.write_text(FAILING, encoding="utf-8")
    return path


def test_fail_moves_actions_to_failed_and_runs_on_failure(cli, failing):
    result = run_json(cli, failing, "--event", "1", "--at", T0_ISO, "--fail", "agent_a")
    assert result["failed"] == [{"flow": "routing", "line": 6, "type": "reply", "agent": "agent_a", "text": "hello"}]
    assert result["actions"] == [
        {"flow": "routing", "line": 6, "type": "assign", "group": "sales"},
        {"flow": "routing", "line": 7, "type": "ticket", "text": "after 1"},
        {"flow": "later", "line": 14, "type": "assign", "any": True},
    ]


def test_at_rejects_what_event_timestamp_rejects(cli, lead):
    for bad in ("-5", "1795593600000"):
        proc = cli("run", lead, "--event", "signup", f"--at={bad}")
        assert proc.returncode == 2, bad
        assert proc.stdout == ""


def test_fail_warns_about_a_name_no_action_aims_at(cli, failing):
    proc = cli("run", failing, "--event", "1", "--at", T0_ISO, "--fail", "agnet_a", "--json")
    assert proc.returncode == 0
    assert "warning: --fail agnet_a" in proc.stderr
    assert json.loads(proc.stdout)["failed"] == []


def test_fail_is_repeatable_and_applies_to_groups(cli, failing):
    result = run_json(cli, failing, "--event", "1", "--at", T0_ISO, "--fail", "agent_a", "--fail", "sales")
    assert [a["type"] for a in result["failed"]] == ["reply", "assign"]
    assert result["failed"][1]["group"] == "sales"
    assert result["actions"] == [
        {"flow": "routing", "line": 6, "type": "reply", "agent": "agent_b", "text": "sorry"},
        {"flow": "routing", "line": 7, "type": "ticket", "text": "after 1"},
        {"flow": "later", "line": 14, "type": "assign", "any": True},
    ]


def test_fail_without_handler_ends_the_flow(cli, failing):
    result = run_json(cli, failing, "--event", "2", "--at", T0_ISO, "--fail", "agent_a")
    assert [a["text"] for a in result["failed"]] == ["no handler"]
    assert result["actions"] == [{"flow": "later", "line": 14, "type": "assign", "any": True}]


def test_fail_of_an_unused_name_changes_nothing(cli, failing):
    plain = run_json(cli, failing, "--event", "1", "--at", T0_ISO)
    other = run_json(cli, failing, "--event", "1", "--at", T0_ISO, "--fail", "nobody")
    assert plain == other
    assert plain["failed"] == []


# ----------------------------------------------------------------- exit status


def test_errors_in_the_file_exit_1(cli, tmp_path, visitor_file):
    bad = tmp_path / "bad.ppflow"
    bad.write_text("event 1 click\non event clik -> reply a\n", encoding="utf-8")
    before = visitor_file.read_bytes()
    proc = cli("run", bad, "--event", "1", "--visitor", visitor_file, "--save", "--json")
    assert proc.returncode == 1
    assert "error[" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert visitor_file.read_bytes() == before
    assert cli("check", bad).returncode == 1


@pytest.mark.parametrize("spec", ["{not json", '{"event_name": "click"', "", "@"])
def test_malformed_event_exits_2(cli, lead, visitor_file, spec):
    before = visitor_file.read_bytes()
    proc = cli("run", lead, "--event", spec, "--visitor", visitor_file, "--save")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert visitor_file.read_bytes() == before


def test_missing_visitor_file_exits_2(cli, lead, tmp_path):
    missing = tmp_path / "nobody.json"
    proc = cli("run", lead, "--event", "click", "--visitor", missing, "--save")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert not missing.exists()


def test_save_without_visitor_exits_2(cli, lead):
    proc = cli("run", lead, "--event", "click", "--save")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr


def test_event_data_with_a_lone_surrogate_never_gives_a_traceback(cli, lead, visitor_file):
    """JSON allows "\\ud800"; whatever ppdsl decides, --save must not crash half-way."""
    before = visitor_file.read_bytes()
    proc = cli(
        "run",
        lead,
        "--event",
        '{"event_name": "click", "event_data": "\\ud800"}',
        "--visitor",
        visitor_file,
        "--save",
        "--at",
        T0_ISO,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1, 2)
    if proc.returncode != 0:
        assert visitor_file.read_bytes() == before
    else:
        json.loads(visitor_file.read_text(encoding="utf-8"))
    assert [p.name for p in visitor_file.parent.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------------------------- readable output


def test_readable_output_mentions_event_statistics_and_actions(cli, lead, visitor_file):
    proc = cli("run", lead, "--event", "view_pricing", "--at", T0_ISO, "--visitor", visitor_file)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "view_pricing" in out
    assert T0_ISO in out
    assert "event_count_2" in out and "9" in out
    lines = out.splitlines()
    assert any("lead_routing" in line and "12" in line and "agent_a" in line for line in lines), out
    assert "Hi Li Lei, shall we book a demo?" in out


def test_readable_output_shows_failed_actions_with_flow_and_line(cli, tmp_path):
    path = tmp_path / "failing.ppflow"
    path.write_text(FAILING, encoding="utf-8")
    proc = cli("run", path, "--event", "2", "--at", T0_ISO, "--fail", "agent_a")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any("routing" in line and "10" in line and "agent_a" in line for line in lines), proc.stdout
    assert any("later" in line and "14" in line for line in lines), proc.stdout
    assert "fail" in proc.stdout.lower()


# ----------------------------------------------------------------- help


def commands(cli) -> list:
    proc = cli("--help")
    assert proc.returncode == 0
    listing = proc.stdout.split("Commands:", 1)[1]
    return re.findall(r"^\s{2}([a-z][a-z0-9-]*)\s", listing, flags=re.M)


def test_top_level_help_shows_an_example(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    assert re.search(r"ppdsl (run|check|compile) \S+\.ppflow", proc.stdout), proc.stdout


def test_every_command_help_shows_an_example(cli):
    names = commands(cli)
    assert {"check", "compile", "run"} <= set(names)
    for name in names:
        proc = cli(name, "--help")
        assert proc.returncode == 0, name
        assert re.search(rf"\bppdsl {re.escape(name)} \S", proc.stdout), f"{name} --help shows no example"


# ----------------------------------------------------------------- compile -o


RUNNER = """\
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("rules", sys.argv[1])
rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rules)
fail = set(json.loads(sys.argv[4]))
effects = (lambda a: a.get("agent") not in fail and a.get("group") not in fail) if fail else None
result = rules.handle(json.loads(sys.argv[2]), json.loads(sys.argv[3]), effects)
tops = {m.split(".")[0] for m in sys.modules}
foreign = sorted(tops - set(sys.stdlib_module_names) - {"rules", "__main__"})
print(json.dumps({"result": result, "events": {str(k): v for k, v in rules.EVENTS.items()}, "foreign": foreign}))
"""


@pytest.mark.parametrize(
    "which,event,fail",
    [
        ("lead", {"track_event": {"event_name": "view_pricing", "event_timestamp": T0}}, []),
        ("lead", {"event_uuid": PRICING_UUID, "event_data": {"plan": "pro"}, "event_timestamp": T0 + 1.5}, []),
        ("lead", {"event_seq": 3, "event_timestamp": T0}, []),
        ("failing", {"event_seq": 1, "event_timestamp": T0}, ["agent_a", "sales"]),
        ("failing", {"event_seq": 2, "event_timestamp": T0}, ["agent_a"]),
    ],
)
def test_compiled_module_runs_isolated_and_agrees_with_run(cli, tmp_path, which, event, fail):
    source = tmp_path / f"{which}.ppflow"
    source.write_text(LEAD if which == "lead" else FAILING, encoding="utf-8")
    out = tmp_path / "compiled" / "rules_module.py"
    out.parent.mkdir()
    proc = cli("compile", source, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    visitor = VISITOR if which == "lead" else {"user_fullname": "x"}
    isolated = subprocess.run(
        [sys.executable, "-I", "-S", str(runner), str(out), json.dumps(event), json.dumps(visitor), json.dumps(fail)],
        capture_output=True,
        text=True,
        cwd=tmp_path / "compiled",
        timeout=60,
    )
    assert isolated.returncode == 0, isolated.stderr
    module = json.loads(isolated.stdout)
    assert module["foreign"] == []

    visitor_path = tmp_path / "visitor.json"
    visitor_path.write_text(json.dumps(visitor), encoding="utf-8")
    fail_args = [arg for name in fail for arg in ("--fail", name)]
    via_run = run_json(cli, source, "--event", json.dumps(event), "--visitor", visitor_path, *fail_args)
    assert module["result"] == via_run

    if which == "lead":
        assert module["events"]["1"] == {
            "name": "click",
            "uuid": "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a",
            "description": "Any click on the page",
        }
        assert set(module["events"]) == {"1", "2", "3"}


def test_compiled_module_rejects_like_run(cli, lead, tmp_path):
    out = tmp_path / "rules_module.py"
    assert cli("compile", lead, "-o", out).returncode == 0
    script = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('rules', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "v = {'event_count_1': 1}\n"
        "try:\n    m.handle(json.loads(sys.argv[2]), v)\n"
        "except ValueError as e:\n    print(json.dumps([str(e), v]))\n"
    )
    payload = json.dumps({"event_name": "click", "event_timestamp": -3})
    isolated = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(out), payload], capture_output=True, text=True, timeout=60
    )
    assert isolated.returncode == 0, isolated.stderr
    message, visitor = json.loads(isolated.stdout)
    assert visitor == {"event_count_1": 1}
    proc = cli("run", lead, "--event", payload)
    assert proc.returncode == 1
    assert proc.stderr.rstrip("\n") == f"error: {message}"


def test_compile_of_a_file_with_errors_exits_1_and_writes_nothing(cli, tmp_path):
    bad = tmp_path / "bad.ppflow"
    bad.write_text("on event 9 -> reply a\n", encoding="utf-8")
    out = tmp_path / "out.py"
    proc = cli("compile", bad, "-o", out)
    assert proc.returncode == 1
    assert not out.exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=oct)
def test_compile_gives_a_new_module_the_mode_of_the_umask(lead, tmp_path, umask, mode):
    """A module that a service imports must not be writable by everyone (item 1)."""
    out = tmp_path / "rules_module.py"
    argv = [*ppdsl_command(), "compile", str(lead), "-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, umask=umask, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_mode & 0o777 == mode


def test_compile_over_an_existing_module_keeps_its_mode(cli, lead, tmp_path):
    out = tmp_path / "rules_module.py"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o640)
    assert cli("compile", lead, "-o", out).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o640
    assert "def handle(" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("target_exists", [True, False])
def test_compile_writes_through_a_symlink_as_save_does(cli, lead, tmp_path, target_exists):
    target = tmp_path / "real" / "rules_module.py"
    target.parent.mkdir()
    if target_exists:
        target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    proc = cli("compile", lead, "-o", link)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "def handle(" in target.read_text(encoding="utf-8")
    assert "link.py" in proc.stderr


def test_check_format_json_gives_the_diagnostics_as_data(cli, tmp_path):
    flow = tmp_path / "f.ppflow"
    flow.write_text('agent a "小王"\non event 1 -> if scroe > 1 reply a\n', encoding="utf-8")
    result = cli("check", "--format", "json", flow)
    assert result.returncode == 1
    (diag,) = json.loads(result.stdout)
    assert diag == {
        "file": str(flow),
        "line": 2,
        "column": 18,
        "end_line": 2,
        "end_column": 23,
        "severity": "error",
        "code": "E101",
        "message": "unknown name 'scroe'",
        "help": diag["help"],
        "labels": [],
    }
    assert "score" in diag["help"] or "field scroe" in diag["help"]


# ----------------------------------------------------------------- CLI conventions (item 20)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_ppdsl_and_the_version(cli, flag):
    import ppdsl

    proc = cli(flag)
    assert proc.returncode == 0
    assert proc.stdout == f"ppdsl {ppdsl.__version__}\n"


GOOD = 'agent a\non event 1 -> reply a "hi"\n'
WITH_ERROR = "on event 1 -> reply agent_x\nevent 1 click\nagent a\n"


def test_check_a_folder_checks_every_ppflow_file_under_it_sorted(cli, tmp_path):
    (tmp_path / "rules" / "a").mkdir(parents=True)
    for name in ("rules/b.ppflow", "rules/a/c.ppflow", "rules/a.ppflow"):
        (tmp_path / name).write_text(GOOD, encoding="utf-8")
    (tmp_path / "rules" / "notes.txt").write_text("not a flow", encoding="utf-8")
    proc = cli("check", "rules", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [
        os.path.join("rules", "a.ppflow"),
        os.path.join("rules", "a", "c.ppflow"),
        os.path.join("rules", "b.ppflow"),
    ]


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_check_dash_reads_stdin(cli, output_format):
    proc = cli("check", "--format", output_format, "-", input=WITH_ERROR)
    assert proc.returncode == 1
    if output_format == "json":
        assert {d["file"] for d in json.loads(proc.stdout)} == {"<stdin>"}
    else:
        assert proc.stdout.startswith("<stdin>:1:21: error[E104]")
        assert "<stdin>: 1 error" in proc.stdout


def test_check_reports_a_missing_file_and_checks_the_others(cli, tmp_path):
    (tmp_path / "good.ppflow").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.ppflow").write_text(WITH_ERROR, encoding="utf-8")
    proc = cli("check", "good.ppflow", "missing.ppflow", "bad.ppflow", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "error: can't read missing.ppflow: No such file or directory\n"
    assert "good.ppflow: ok" in proc.stdout and "bad.ppflow: 1 error" in proc.stdout
    assert cli("check", "bad.ppflow", "good.ppflow", cwd=tmp_path).returncode == 1
    assert cli("check", "good.ppflow", cwd=tmp_path).returncode == 0


RED_ERROR = "\x1b[31merror\x1b[0m[\x1b[1mE104\x1b[0m]: unknown agent 'agent_x'"
YELLOW_WARNING = "\x1b[33mwarning\x1b[0m[\x1b[1mW202\x1b[0m]"


def test_check_color_always_colours_each_headline_and_nothing_else(cli, tmp_path):
    (tmp_path / "bad.ppflow").write_text(WITH_ERROR, encoding="utf-8")
    colored = cli("check", "--color", "always", "bad.ppflow", cwd=tmp_path).stdout
    assert f"bad.ppflow:1:21: {RED_ERROR}\n" in colored
    assert f"bad.ppflow:3:7: {YELLOW_WARNING}" in colored
    assert colored.count("\x1b[0m") == 4  # two headlines: severity and code
    plain = cli("check", "bad.ppflow", cwd=tmp_path).stdout  # auto, and stdout is a pipe
    assert "\x1b" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain
    assert "\x1b" not in cli("check", "--color", "never", "bad.ppflow", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    "env,option,colored",
    [({}, [], True), ({"NO_COLOR": "1"}, [], False), ({}, ["--color=never"], False)],
    ids=["terminal", "NO_COLOR", "never"],
)
def test_check_colours_a_terminal_unless_no_color(tmp_path, env, option, colored):
    import pty

    (tmp_path / "bad.ppflow").write_text(WITH_ERROR, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [*ppdsl_command(), "check", *option, "bad.ppflow"],
            stdout=slave,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env={**clean, "PYTHONIOENCODING": "utf-8", **env},
            timeout=120,
        )
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    assert proc.returncode == 1
    assert ("\x1b[31merror" in out.decode("utf-8")) is colored
    assert (b"\x1b" in out) is colored


def test_event_given_twice_is_an_error(cli, lead):
    proc = cli("run", lead, "--event", "click", "-e", "signup")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "--event given twice" in proc.stderr


def test_event_at_dash_reads_the_event_from_stdin(cli, lead):
    event = json.dumps({"track_event": {"event_name": "view_pricing", "event_timestamp": T0}})
    proc = cli("run", lead, "--event", "@-", "--json", input=event)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["event"]["time"] == T0_ISO
    bad = cli("run", lead, "--event", "@-", input='{"event_name": "click",}')
    assert bad.returncode == 2
    assert "<stdin> is not valid JSON: " in bad.stderr and "line 1 column 2" in bad.stderr  # 23 or 24 by version


def test_at_is_ignored_with_a_warning_when_the_event_carries_its_own_time(cli, lead):
    own = json.dumps({"event_name": "click", "event_timestamp": T0})
    proc = cli("run", lead, "--event", own, "--at", "2020-01-01T00:00:00Z", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["event"]["time"] == T0_ISO
    assert proc.stderr == "warning: --at is ignored: the event carries its own event_timestamp\n"
    assert cli("run", lead, "--event", "click", "--at", T0_ISO, "--json").stderr == ""
    assert cli("run", lead, "--event", own, "--json").stderr == ""


def test_fail_ticket_and_fail_any_reach_every_on_failure_path(cli, tmp_path):
    path = tmp_path / "paths.ppflow"
    path.write_text(
        "agent a\nflow f { on event 1 -> {\n"
        '  ticket "t" on failure -> reply a "ticket failed"\n'
        '  assign any on failure -> reply a "assign any failed"\n} }\n',
        encoding="utf-8",
    )
    proc = cli("run", path, "--event", "1", "--at", T0_ISO, "--fail", "ticket", "--fail", "any", "--json")
    assert proc.returncode == 0 and proc.stderr == ""  # no "no action is aimed at it" warning
    result = json.loads(proc.stdout)
    assert [(a["type"], a.get("any")) for a in result["failed"]] == [("ticket", None), ("assign", True)]
    assert [a["text"] for a in result["actions"]] == ["ticket failed", "assign any failed"]
    only_ticket = run_json(cli, path, "--event", "1", "--at", T0_ISO, "--fail", "ticket")
    assert [a["type"] for a in only_ticket["failed"]] == ["ticket"]
    help_text = " ".join(cli("run", "--help").stdout.split())
    assert "--fail ticket fails every ticket, --fail any every `assign any`" in help_text


def test_run_prints_the_file_warnings_on_stderr_and_quiet_hides_them(cli, tmp_path):
    path = tmp_path / "warned.ppflow"
    path.write_text('agent a\nagent unused\non event 1 -> reply a "hi"\n', encoding="utf-8")
    for _ in range(2):  # a compile, then a cache hit
        proc = cli("run", path, "--event", "1", "--json")
        assert proc.returncode == 0
        assert proc.stderr.startswith(f"{path}:2:7: warning[W202]: agent 'unused' is declared but never used\n")
        assert json.loads(proc.stdout)["actions"][0]["agent"] == "a"
    for flag in ("-q", "--quiet"):
        quiet = cli("run", path, "--event", "1", "--json", flag, "--fail", "nobody")
        assert quiet.returncode == 0 and quiet.stderr == ""
    (tmp_path / "bad.ppflow").write_text(WITH_ERROR, encoding="utf-8")
    errors = cli("run", tmp_path / "bad.ppflow", "--event", "1", "-q")  # -q never hides errors
    assert errors.returncode == 1
    assert "error[E104]" in errors.stderr and "warning[W202]" in errors.stderr


def test_event_names_in_any_script_and_aliases_from_the_command_line(cli, tmp_path):
    flow = tmp_path / "alias.ppflow"
    flow.write_text(
        'event 1 查看价格页 alias "view pricing"\nagent 小王\non event 1 -> reply 小王 "hi"\n', encoding="utf-8"
    )
    for spec in ("查看价格页", "view pricing"):
        proc = cli("run", flow, "--event", spec, "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["actions"][0]["agent"] == "小王"
