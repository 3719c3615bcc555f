"""LANGUAGE.md section 10 (v1.1): names in any script, compared after NFKC,
and event aliases for the names a page sends that are not identifiers."""

from __future__ import annotations

import textwrap

import pytest

import ppdsl

FLOW = """\
event 1 查看价格页 alias "view-pricing" alias "查看 价格" uuid "u-1"
event 2 ｓｉｇｎｕｐ
agent 小王 "王经理"
field 积分 int
flow 线索 {
  on event 查看价格页 -> if count(signup) > 0 and 积分 >= 10 reply 小王 "你好 {{ data.名字 }}" else assign 小王
  on event 2 -> set 积分 = 积分 + 1
}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("v11") / "中文.ppflow"
    path.write_text(FLOW, encoding="utf-8")
    return ppdsl.load(path, cache=False)


def test_names_in_any_script_and_nfkc(rules):
    # ｓｉｇｎｕｐ (full-width letters) is the name signup after NFKC
    assert rules.EVENTS[2]["name"] == "signup"
    result = rules.handle({"event_name": "signup", "event_timestamp": 1795593600}, {"积分": 9})
    assert result["visitor"]["积分"] == 10


@pytest.mark.parametrize("name", ["查看价格页", "view-pricing", "查看 价格", "ｖｉｅｗ-ｐｒｉｃｉｎｇ"])
def test_an_alias_or_the_name_resolves_the_event(rules, name):
    payload = {"event_name": name, "event_data": {"名字": "李雷"}, "event_timestamp": 1795593600}
    result = rules.handle(payload, {"积分": 10, "event_count_2": 1})
    assert result["event"]["seq"] == 1
    assert result["actions"][0] == {"flow": "线索", "line": 6, "type": "reply", "agent": "小王", "text": "你好 李雷"}


def test_an_unknown_alias_is_rejected_naming_the_known_events(rules):
    with pytest.raises(ValueError, match="unknown event_name"):
        rules.handle({"event_name": "view_pricing"})


def test_keywords_stay_ascii_and_alias_is_a_keyword(tmp_path):
    path = tmp_path / "k.ppflow"
    path.write_text(textwrap.dedent("agent alias\n"), encoding="utf-8")
    with pytest.raises(ppdsl.CompileError, match="keyword"):
        ppdsl.load(path, cache=False)


def test_an_alias_then_a_description(tmp_path):
    path = tmp_path / "d.ppflow"
    path.write_text(
        'event 1 e1 alias "x" "about it"\nevent 2 e2 alias "y" alias "z" uuid "u" "two"\n', encoding="utf-8"
    )
    rules = ppdsl.load(path, cache=False)
    assert rules.EVENTS[1]["description"] == "about it"
    assert rules.EVENTS[2] == {"name": "e2", "uuid": "u", "description": "two"}
    assert rules.handle({"event_name": "z"})["event"]["seq"] == 2
