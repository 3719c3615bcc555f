"""The engine in-process, with no CLI: one event through a ruleset, and the visitor file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

import ppdsl
from conftest import EXAMPLES
from ppdsl.engine import files
from ppdsl.engine.json_input import InputError
from ppdsl.engine.one_event import EventResult, RejectedEvent, run_event, unaimed
from ppdsl.engine.visitor_file import SaveError, read_visitor, save_visitor, saving_path, visitor_lock

T0 = 1795593600  # 2026-11-25T08:00:00Z
VIEW_PRICING = {"track_event": {"event_name": "view_pricing", "event_timestamp": T0}}
HOT_REPLY = {
    "flow": "lead_routing",
    "line": 13,
    "type": "reply",
    "agent": "agent_a",
    "text": "Hi Li Lei, shall we book a demo?",
}


@pytest.fixture(scope="module")
def lead():
    return ppdsl.load(EXAMPLES / "lead_routing.ppflow")


@pytest.fixture
def visitor() -> dict:
    return json.loads((EXAMPLES / "lead_routing.visitor.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------- one event


def test_the_result_is_typed_and_wraps_what_handle_returns(lead, visitor):
    result = run_event(lead, VIEW_PRICING, visitor)
    assert isinstance(result, EventResult)
    assert result.data == lead.handle(VIEW_PRICING, visitor)
    assert result.event == {
        "seq": 2,
        "name": "view_pricing",
        "uuid": "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4",
        "count": 9,
        "time": "2026-11-25T08:00:00Z",
    }
    assert result.actions == [HOT_REPLY]
    assert result.failed == []
    assert result.visitor["event_count_2"] == 9
    assert visitor["event_count_2"] == 8  # the caller's dict is not modified


def test_at_is_the_time_of_an_event_without_one(lead):
    result = run_event(lead, {"event_name": "click"}, None, at="2026-11-25T16:00:00+08:00")
    assert result.event["time"] == "2026-11-25T08:00:00Z"
    assert result.visitor == {
        "event_count_1": 1,
        "event_first_time_1": "2026-11-25T08:00:00Z",
        "event_last_time_1": "2026-11-25T08:00:00Z",
        "event_last_data_1": None,
    }


@pytest.mark.parametrize(
    "payload,visitor",
    [
        ({"event_name": "nope"}, {}),
        ({"event_name": "click", "event_timestamp": T0 * 1000}, {}),
        ({"track_event": {"event_data": 1}}, {}),
        ({"event_name": "click"}, {"event_count_1": "three"}),
    ],
)
def test_a_rejected_event_raises_with_the_message_of_handle(lead, payload, visitor):
    with pytest.raises(ValueError) as plain:
        lead.handle(payload, visitor, at=T0)
    with pytest.raises(RejectedEvent) as rejected:
        run_event(lead, payload, visitor, at=T0)
    assert str(rejected.value) == str(plain.value)


def test_fail_names_make_the_actions_aimed_at_them_fail(lead, visitor):
    result = run_event(lead, VIEW_PRICING, visitor, fail=["agent_a"])
    assert result.failed == [HOT_REPLY]
    assert result.actions == []
    assert run_event(lead, VIEW_PRICING, visitor, fail=["agent_b"]).actions == [HOT_REPLY]


def test_fail_names_groups_and_on_failure_runs():
    rules = ppdsl.load(EXAMPLES / "returning_visitor.ppflow")
    payload = {"event_name": "session_start", "event_timestamp": T0}
    away = {"last_seen": "2026-10-01T00:00:00Z", "user_fullname": "Li Lei"}
    result = run_event(rules, payload, away, fail=("sales",))
    assert [(a["type"], a.get("group")) for a in result.failed] == [("assign", "sales")]
    assert [a["type"] for a in result.actions] == ["ticket", "reply", "set", "set"]


def test_unaimed_lists_the_fail_names_no_action_aims_at(lead):
    assert unaimed(lead, ["agent_b", "nobody", "agent_a", "agnet_a"]) == ["agnet_a", "nobody"]
    assert unaimed(lead, []) == []


def test_a_ruleset_that_lists_no_targets_gives_no_unaimed_names():
    class Vendored:
        EVENTS: dict = {}

        def handle(self, payload, visitor=None, effects=None, *, at=None):
            return {"event": {}, "actions": [], "failed": [], "visitor": {}}

    assert unaimed(Vendored(), ["agent_a"]) == []
    assert run_event(Vendored(), {}).actions == []


VENDORED = """\
import json, sys
sys.path.insert(0, sys.argv[1])
import rules_module
from ppdsl.engine.one_event import run_event
hot = {"event_count_2": 9, "event_count_3": 9}
result = run_event(rules_module, {"event_name": "view_pricing"}, hot, at=sys.argv[2])
heavy = ("ppdsl.build", "ppdsl.codegen", "ppdsl.lang", "click", "textx", "jinja2")
print(json.dumps({"actions": result.actions, "loaded": sorted(m for m in sys.modules if m.startswith(heavy))}))
"""


def test_a_vendored_module_runs_without_the_compiler(tmp_path):
    from ppdsl.build.pipeline import compile_source

    source = (EXAMPLES / "lead_routing.ppflow").read_text(encoding="utf-8")
    (tmp_path / "rules_module.py").write_text(compile_source(source, "lead_routing.ppflow").code, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", VENDORED, str(tmp_path), str(T0)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    )
    seen = json.loads(out.stdout)
    assert seen["loaded"] == []
    assert [a["agent"] for a in seen["actions"]] == ["agent_a"]


# ----------------------------------------------------------------- the visitor file


def test_read_visitor_gives_the_object_and_an_empty_file_is_a_new_visitor(tmp_path, visitor):
    path = tmp_path / "v.json"
    path.write_text(json.dumps(visitor), encoding="utf-8")
    assert read_visitor(str(path)) == visitor
    path.write_text(" \n", encoding="utf-8")
    assert read_visitor(str(path)) == {}


@pytest.mark.parametrize(
    "content,message",
    [
        (b"[1, 2]", "must be a JSON object"),
        (b"{bad", "is not valid JSON: "),
        (b'{"a": "\xff"}', "can't read "),
    ],
)
def test_read_visitor_refuses_what_is_not_a_json_object(tmp_path, content, message):
    path = tmp_path / "v.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_visitor(str(path))
    assert str(path) in str(info.value)


def test_read_visitor_of_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="can't read .*nobody.json: No such file or directory"):
        read_visitor(str(tmp_path / "nobody.json"))


def test_save_visitor_replaces_the_file_and_keeps_its_mode(tmp_path, visitor):
    path = tmp_path / "v.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o640)
    save_visitor(str(path), {**visitor, "user_fullname": "李雷"})
    assert (
        path.read_text(encoding="utf-8")
        == json.dumps({**visitor, "user_fullname": "李雷"}, indent=2, ensure_ascii=False) + "\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json"]


def test_save_visitor_writes_through_a_symlink(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert saving_path(str(link)) == os.path.realpath(target)
    save_visitor(str(link), {"event_count_1": 1})
    assert link.is_symlink()
    assert json.loads(target.read_text(encoding="utf-8")) == {"event_count_1": 1}


def test_save_visitor_keeps_lone_surrogates_escaped(tmp_path):
    path = tmp_path / "v.json"
    path.write_text("{}", encoding="utf-8")
    save_visitor(str(path), {"note": "\ud800"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"note": "\ud800"}


@pytest.mark.parametrize("kind", ["folder", "missing"])
def test_save_visitor_writes_only_to_a_regular_file(tmp_path, kind):
    path = tmp_path / "v"
    if kind == "folder":
        path.mkdir()
    with pytest.raises(SaveError) as info:
        saving_path(str(path))
    assert info.value.path == str(path)
    with pytest.raises(SaveError):
        save_visitor(str(path), {})
    assert path.is_dir() if kind == "folder" else not path.exists()


def test_a_failed_save_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v.json"
    path.write_text('{"event_count_1": 3}', encoding="utf-8")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(SaveError, match=r"can't write .*v\.json: Permission denied") as info:
        save_visitor(str(path), {"event_count_1": 4})
    assert info.value.path == str(path)
    assert path.read_text(encoding="utf-8") == '{"event_count_1": 3}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json"]


def test_save_visitor_refuses_a_read_only_file_even_for_root(tmp_path):
    path = tmp_path / "v.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o444)
    with pytest.raises(SaveError, match="is read-only") as info:
        save_visitor(str(path), {"event_count_1": 1})
    assert info.value.path == str(path)
    assert path.read_text(encoding="utf-8") == "{}"


def test_save_visitor_breaks_a_hard_link(tmp_path):
    """The save is a rename: the other name of a hard link keeps the old content."""
    path = tmp_path / "v.json"
    path.write_text('{"event_count_1": 1}', encoding="utf-8")
    other = tmp_path / "other.json"
    os.link(path, other)
    save_visitor(str(path), {"event_count_1": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"event_count_1": 2}
    assert json.loads(other.read_text(encoding="utf-8")) == {"event_count_1": 1}
    assert path.stat().st_nlink == 1


def test_the_visitor_lock_is_beside_the_file_a_save_replaces(tmp_path):
    target = tmp_path / "real" / "v.json"
    target.parent.mkdir()
    target.write_text("{}", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with visitor_lock(str(link)):
        assert (target.parent / "v.json.lock").exists()
    assert not (tmp_path / "link.json.lock").exists()


PYTHON_INTERNALS = ("Out of range float", "set_int_max_str_digits", "utf-8-sig", "codec", "recursion")


@pytest.mark.parametrize(
    "content,where",
    [
        ('{"user_score": 1e400}', "user_score is 1e400, not a finite number"),
        ('{"a": {"b": [1, NaN]}}', "a.b[1] is NaN, not a finite number"),
        ('{"x": -Infinity}', "x is -Infinity, not a finite number"),
        ('{"event_count_1": ' + "9" * 5000 + "}", "event_count_1 is 99999999999999999999..., a number too long"),
    ],
    ids=["1e400", "nan", "-infinity", "5000-digits"],
)
def test_read_visitor_refuses_numbers_json_cant_carry(tmp_path, content, where):
    path = tmp_path / "v.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_visitor(str(path))
    assert str(info.value).startswith(f"{path}: ")
    assert where in str(info.value)
    assert not any(internal in str(info.value) for internal in PYTHON_INTERNALS)


def test_read_visitor_accepts_a_byte_order_mark(tmp_path):
    path = tmp_path / "v.json"
    path.write_bytes(b'\xef\xbb\xbf{"user_fullname": "Li"}')
    assert read_visitor(str(path)) == {"user_fullname": "Li"}
    path.write_bytes(b"\xef\xbb\xbf\n")
    assert read_visitor(str(path)) == {}


@pytest.mark.parametrize("content", [b"\xff{}", b"[" * 100_000], ids=["not-utf8", "deep"])
def test_read_visitor_messages_say_no_python_internals(tmp_path, content):
    path = tmp_path / "v.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_visitor(str(path))
    assert not any(internal in str(info.value) for internal in PYTHON_INTERNALS), info.value


def test_save_visitor_never_writes_invalid_json(tmp_path):
    path = tmp_path / "v.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(SaveError, match="a number that JSON can't carry"):
        save_visitor(str(path), {"user_score": float("inf")})
    assert path.read_text(encoding="utf-8") == "{}"
