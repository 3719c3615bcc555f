"""LANGUAGE.md section 5 (expressions, null, functions) and the template
formatting rules of section 4. Every expected value is worked out from the
spec (Python semantics where it says "as in Python").

Expressions are compiled in batches, one flow per expression that stores the
value with `set extra_field_rN = EXPR`, so hundreds of cases cost a few
compiles. A case the compiler rejects fails on its own, with the diagnostic.
"""

from __future__ import annotations

import json
import textwrap

import pytest

import ppdsl

T0 = 1795593600  # 2026-11-25T08:00:00Z

HEADER = """\
event 1 click uuid "u-click"
event 2 view_pricing uuid "u-pricing"
event 3 signup
agent a
field score int
field joined datetime
segment busy = count(view_pricing) > 3
segment busy_reader = busy and exists(page_url)
"""


class Batch:
    """Many expressions or templates compiled into one module."""

    def __init__(self, tmp_path, bodies: list, name: str):
        self.errors: dict = {}
        self.index: dict = {}
        pending = list(range(len(bodies)))
        for _attempt in range(5):
            lines = HEADER.splitlines()
            line_of = {}
            for i in pending:
                line_of[len(lines) + 1] = i
                lines.append(f"flow x{i} {{ on any event -> {bodies[i]} }}")
            path = tmp_path / f"{name}.ppflow"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            try:
                self.rules = ppdsl.load(path, cache=False)
                return
            except ppdsl.CompileError as exc:
                bad = [d for d in exc.diagnostics if d.is_error]
                culprits = {line_of[d.line] for d in bad if d.line in line_of}
                if not culprits:
                    raise
                for d in bad:
                    if d.line in line_of:
                        self.errors.setdefault(line_of[d.line], []).append(f"{d.code}: {d.message}")
                pending = [i for i in pending if i not in culprits]
        raise AssertionError("too many compile errors")

    def run(self, payload, visitor):
        return self.rules.handle(payload, visitor)

    def check_compiled(self, i: int) -> None:
        if i in self.errors:
            pytest.fail(f"rejected by the compiler: {self.errors[i]}")


def same(got, expected) -> bool:
    """Equal, and of the same JSON type (True is not 1, 2.0 is not 2)."""
    if isinstance(expected, dict):
        return (
            isinstance(got, dict) and got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same(g, e) for g, e in zip(got, expected, strict=False))
        )
    return type(got) is type(expected) and got == expected


# ----------------------------------------------------------------- the context

VISITOR = {
    "user_fullname": "Li Lei",
    "user_email": "",
    "user_web_sessions": 3,
    "is_anonymous_user": False,
    "ent_user_createtime": "2026-01-01T00:00:00Z",
    "page_url": "/pricing/pro",
    "event_count_2": 5,
    "event_first_time_2": "2026-11-24T08:00:00Z",
    "event_last_time_2": "2026-11-25T07:55:00Z",
    "event_last_data_2": '{"plan":"pro","n":[1,2]}',
    "extra_field_tags": ["a", "b"],
    "extra_field_str_n": "5",
    "score": 7,
    "joined": "2026-11-20T00:00:00Z",
}

DATA = {
    "page_url": "/pricing",
    "page url": "spaced",
    "n": 5,
    "f": 1.5,
    "s": "5",
    "zero": 0,
    "empty": "",
    "list": [],
    "nested": {"deep": "x"},
    "event": "kw",
    "big": 1e20,
    "t": True,
    "none": None,
}

PAYLOAD = {"track_event": {"event_name": "click", "event_data": DATA, "event_timestamp": T0}}

EXPRESSIONS = [
    # arithmetic and precedence, as in Python
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("2 * 3 % 4", 2),
    ("-2 * 3", -6),
    ("2 - -1", 3),
    ("-(2 + 3)", -5),
    ("7 / 2", 3.5),
    ("6 / 3", 2.0),
    ("20 / 4 / 5", 1.0),
    ("7 % 3", 1),
    ("-7 % 3", 2),
    ("7.5 % 2", 1.5),
    ("2 * 3 + 4 * 5", 26),
    ("0.1 + 0.2", 0.30000000000000004),
    ("1 + 2 == 3", True),
    ("data.f * 2", 3.0),
    ("data.n + data.f", 6.5),
    ("user_web_sessions + 1", 4),
    # comparisons chain as in Python
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("3 > 2 > 1", True),
    ("1 < 2 > 1", True),
    ("3 > 2 == 2", True),
    ("1 == 1 == 1", True),
    ("2 == 2 == 1", False),
    ("1 < count(2) <= 8", True),
    ("1 < count(3) <= 8", False),
    ("5 <= count(2) < 6", True),
    ("'a' < 'b'", True),
    ("data.s < '6'", True),
    ("1 == 1.0", True),
    ("2 > 1.5", True),
    ("2 != 3", True),
    # boolean operators and their precedence
    ("true or false and false", True),
    ("(true or false) and false", False),
    ("true || true && false", True),
    ("not true and false", False),
    ("not (true and false)", True),
    ("!false", True),
    ("!true || true", True),
    ("not 1 == 2", True),
    ("not count(2) > 8", True),
    ("not 3 in [1, 2]", True),
    ("True and TRUE", True),
    ("FALSE or False", False),
    # and/or return an operand
    ("1 < 2 and 3", 3),
    ("0 or 5", 5),
    ("0 and 5", 0),
    ("user_fullname or 'there'", "Li Lei"),
    ("user_email or 'there'", "there"),
    ("user_mobile or 'there'", "there"),
    ("user_fullname and 'x'", "x"),
    ("user_mobile and 'x'", None),
    ("data.list or 'empty'", "empty"),
    ("data.zero or 'zero'", "zero"),
    ("data.empty || 'e'", "e"),
    ("data.missing or 'm'", "m"),
    ("data.n or 'n'", 5),
    # truthiness: null, 0, "" and [] are false
    ("not data.list", True),
    ("not data.zero", True),
    ("not data.empty", True),
    ("not data.missing", True),
    ("not data.none", True),
    ("not data.n", False),
    ("not data.nested", False),
    ("not 'x'", False),
    ("not extra_field_tags", False),
    ("not user_mobile", True),
    ("not [0]", False),
    ("not []", True),
    # in / not in
    ("1 in [1, 2]", True),
    ("3 in [1, 2]", False),
    ("3 not in [1, 2]", True),
    ("'ell' in 'hello'", True),
    ("'x' not in 'hello'", True),
    ("'pricing' in page_url", True),
    ("'a' in extra_field_tags", True),
    ("'z' not in extra_field_tags", True),
    ("data.n in [4, 5]", True),
    ("track_event_seq in [1, 2]", True),
    ("'a' in user_mobile", False),
    ("'a' not in user_mobile", False),
    ("user_mobile in ['a']", False),
    ("user_mobile not in ['a']", False),
    ("user_mobile in [null, 1]", False),
    ("null in [null]", False),
    # null
    ("user_mobile == null", True),
    ("user_mobile == None", True),
    ("user_fullname == null", False),
    ("user_mobile != null", False),
    ("user_fullname != null", True),
    ("user_mobile != 'x'", True),
    ("user_mobile == 'x'", False),
    ("user_mobile == 0", False),
    ("data.none != 0", True),
    ("data.missing == null", True),
    ("data.none == null", True),
    ("user_mobile < 'a'", False),
    ("user_mobile > 'a'", False),
    ("user_mobile <= 'a'", False),
    ("data.missing >= 0", False),
    ("data.missing < 0", False),
    ("data.missing + 1", None),
    ("data.missing * 2", None),
    ("-data.missing", None),
    ("1 - data.missing", None),
    ("user_mobile == user_city", True),
    ("user_fullname != user_city", True),
    # division by zero
    ("10 / 0", None),
    ("10 % 0", None),
    ("10 / (user_web_sessions - 3)", None),
    ("data.n / data.zero", None),
    ("data.f % data.zero", None),
    # member access on JSON
    ("data.page_url", "/pricing"),
    ('data["page url"]', "spaced"),
    ("data.event", "kw"),
    ("data.nested.deep", "x"),
    ('data["nested"]["deep"]', "x"),
    ("data.missing", None),
    ("data.missing.deep", None),
    ("data.page_url.x", None),
    ("data.n.x", None),
    ("data.big", 1e20),
    # values of the wrong type at run time
    ("data.s + 1", None),
    ("data.s > 1", False),
    ("data.s < 1", False),
    ("data.s == 5", False),
    ("data.s == '5'", True),
    ("data.list + 1", None),
    ("data.nested > 1", False),
    ("data.nested < 1", False),
    ("data.n > 'a'", False),
    ("data.n < 'a'", False),
    ("extra_field_str_n * 2", None),
    ("extra_field_tags - 1", None),
    ("data.s / 2", None),
    ("-data.s", None),
    # durations and datetimes
    ("now - last_time(2) < 10m", True),
    ("now - last_time(2) < 5m", False),
    ("now - last_time(2) <= 5m", True),
    ("now - last_time(2) == 300s", True),
    ("now - first_time(2) >= 1d", True),
    ("now - first_time(2) > 1d", False),
    ("now - last_time(3) < 10m", False),
    ("now - last_time(3) > 10m", False),
    ("last_time(2) < now", True),
    ("now - 10m < last_time(2)", True),
    ("now - 1h > last_time(2)", False),
    ("1h == 60m", True),
    ("2h > 90m", True),
    ("1w == 7d", True),
    ("30s < 1m", True),
    ("24h == 1d", True),
    ("now > ent_user_createtime", True),
    ("now - ent_user_createtime > 300d", True),
    ("now - joined > 6d", False),
    ("now - joined > 5d", True),
    ("joined < now", True),
    ("first_time(2) < last_time(2)", True),
    ("event_first_time_2 < event_last_time_2", True),
    ("first_time(3) == null", True),
    # statistics and event variables
    ("count(1)", 1),
    ("count(click)", 1),
    ("count(2)", 5),
    ("count(view_pricing)", 5),
    ("count(signup)", 0),
    ("count(3)", 0),
    ("event_count_2", 5),
    ("event_count_3", 0),
    ("event_count_1", 1),
    ("track_event_count", 1),
    ("track_event_seq", 1),
    ("track_event_uuid", "u-click"),
    ("track_event_data == last_data(1)", True),
    ("track_event_data == event_last_data_1", True),
    ("last_data(2)", '{"plan":"pro","n":[1,2]}'),
    ("event_last_data_2", '{"plan":"pro","n":[1,2]}'),
    ("last_data(signup)", None),
    ("json(last_data(2)).plan", "pro"),
    ("json(last_data(view_pricing)).n", [1, 2]),
    ("busy", True),
    ("busy_reader", True),
    ("not busy", False),
    # functions
    ("len('abc')", 3),
    ("len([1, 2])", 2),
    ("len(extra_field_tags)", 2),
    ("len(user_fullname)", 6),
    ("len(user_mobile) > 2", False),
    ("len('你好')", 2),
    ("lower('AbC')", "abc"),
    ("upper('AbC')", "ABC"),
    ("lower(user_fullname)", "li lei"),
    ("contains('hello', 'ell')", True),
    ("contains('hello', 'z')", False),
    ("contains([1, 2], 2)", True),
    ("contains(extra_field_tags, 'b')", True),
    ("contains(extra_field_tags, 'c')", False),
    ("startswith('hello', 'he')", True),
    ("startswith('hello', 'lo')", False),
    ("endswith('hello', 'lo')", True),
    ("endswith(page_url, '/pro')", True),
    ("not startswith(user_mobile, 'x')", True),
    ("not endswith(user_mobile, 'x')", True),
    ("not contains(user_mobile, 'x')", True),
    ("matches(page_url, '^/pricing')", True),
    ("matches('/a/pricing', 'pricing$')", True),
    ("matches('abc', 'b')", True),
    ("matches('abc', '^b')", False),
    ("matches('ABC', '(?i)abc')", True),
    ("matches(page_url, '[0-9]+')", False),
    ("not matches(user_mobile, 'x')", True),
    ("json('{\"a\": [1, 2]}')", {"a": [1, 2]}),
    ("json('[1,2]')", [1, 2]),
    ("json('3')", 3),
    ("json('\"s\"')", "s"),
    ("json('not json')", None),
    ("json(user_mobile)", None),
    ("json(track_event_data).n", 5),
    ("json(track_event_data)['page url']", "spaced"),
    ("int('42')", 42),
    ("int('-7')", -7),
    ("int('4.5')", None),
    ("int(4.9)", 4),
    ("int(-4.9)", -4),
    ("int(user_mobile)", None),
    ("int('abc')", None),
    ("int(data.s) + 1", 6),
    ("int(extra_field_str_n)", 5),
    ("int(data.list)", None),
    ("int(data.nested)", None),
    ("int(data.none)", None),
    ("float('2.5')", 2.5),
    ("float(3)", 3.0),
    ("float(data.s)", 5.0),
    ("float(user_mobile)", None),
    ("float('x')", None),
    ("float(data.nested)", None),
    ("str(5)", "5"),
    ("str(2.5)", "2.5"),
    ("str(user_mobile)", None),
    ("str(data.none)", None),
    ("str(data.n) == '5'", True),
    ("str('x')", "x"),
    ("exists(user_fullname)", True),
    ("exists(user_mobile)", False),
    ("exists(user_email)", True),
    ("exists(data.zero)", True),
    ("exists(data.missing)", False),
    ("exists(data.none)", False),
    ("exists(last_time(3))", False),
    ("exists(first_time(2))", True),
    ("exists(data)", True),
    # system variables of other types
    ("is_anonymous_user", False),
    ("is_anonymous_user == false", True),
    ("not is_anonymous_user", True),
    ("score * 2", 14),
    ("[1, 2]", [1, 2]),
    ("[user_fullname, data.n]", ["Li Lei", 5]),
]

TEMPLATES = [
    ("{{ user_mobile }}", ""),
    ("[{{ data.missing }}]", "[]"),
    ("[{{ data.none }}]", "[]"),
    ("{{ 1 < 2 }}", "true"),
    ("{{ 1 > 2 }}", "false"),
    ("{{ is_anonymous_user }}", "false"),
    ("{{ data.t }}", "true"),
    ("{{ 2.5 }}", "2.5"),
    ("{{ 7 / 2 }}", "3.5"),
    ("{{ 6 / 3 }}", "2.0"),
    ("{{ 0.1 + 0.2 }}", "0.30000000000000004"),
    ("{{ data.big }}", "1e+20"),
    ("{{ data.n }}", "5"),
    ("{{ -3 }}", "-3"),
    ("{{ count(2) }}", "5"),
    ("{{ data.f }}", "1.5"),
    ("{{ 10 / 0 }}", ""),
    ("{{ now }}", "2026-11-25T08:00:00Z"),
    ("{{ now + 1h }}", "2026-11-25T09:00:00Z"),
    ("{{ now - 1d }}", "2026-11-24T08:00:00Z"),
    ("{{ first_time(2) }}", "2026-11-24T08:00:00Z"),
    ("{{ last_time(2) }}", "2026-11-25T07:55:00Z"),
    ("{{ event_last_time_1 }}", "2026-11-25T08:00:00Z"),
    ("{{ ent_user_createtime }}", "2026-01-01T00:00:00Z"),
    ("{{ joined }}", "2026-11-20T00:00:00Z"),
    ("{{ 5m }}", "300s"),
    ("{{ now - last_time(2) }}", "300s"),
    ("{{ 1h + 30s }}", "3630s"),
    ("{{ 1d }}", "86400s"),
    ("{{ 1w }}", "604800s"),
    ("{{ 2h - 90m }}", "1800s"),
    ("{{ [1, 'a', true, null] }}", '[1,"a",true,null]'),
    ("{{ data.nested }}", '{"deep":"x"}'),
    ("{{ extra_field_tags }}", '["a","b"]'),
    ("{{ data.list }}", "[]"),
    ('{{ \\"{{\\" }}', "{{"),
    ("{{ '{{' }} user", "{{ user"),
    ("Hi {{ user_fullname or 'there' }}", "Hi Li Lei"),
    ("Hi {{ user_mobile or 'there' }}!", "Hi there!"),
    ("a\\tb\\nc", "a\tb\nc"),
    ("\\u00e9t\\u00e9", "été"),
    ('say \\"hi\\"', 'say "hi"'),
    ("it\\'s", "it's"),
    ("back\\\\slash", "back\\slash"),
    ('{{ \\"q\\" }}', "q"),
    ("{{ last_data(2) }}", '{"plan":"pro","n":[1,2]}'),
    ("{{ user_web_sessions }}/{{ data.f }}", "3/1.5"),
    ("{{ str(5) }}x", "5x"),
    ("{{user_fullname}}", "Li Lei"),
    ("{{ track_event_seq }}{{ track_event_count }}", "11"),
    ("{{ data.s }}", "5"),
    ("{{ data.empty }}|", "|"),
    ("no template", "no template"),
    ("", ""),
    ("{{ lower(user_fullname) }}", "li lei"),
    ("{{ busy }}", "true"),
]


@pytest.fixture(scope="module")
def expressions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("expr")
    batch = Batch(tmp, [f"set extra_field_r{i} = {e}" for i, (e, _) in enumerate(EXPRESSIONS)], "expressions")
    return batch, batch.run(PAYLOAD, VISITOR)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tmpl")
    batch = Batch(tmp, [f'reply a "{t}"' for t, _ in TEMPLATES], "templates")
    result = batch.run(PAYLOAD, VISITOR)
    return batch, {a["flow"]: a["text"] for a in result["actions"]}


@pytest.mark.parametrize("i", range(len(EXPRESSIONS)), ids=[e for e, _ in EXPRESSIONS])
def test_expression_value(expressions, i):
    batch, result = expressions
    batch.check_compiled(i)
    expr, expected = EXPRESSIONS[i]
    got = result["visitor"][f"extra_field_r{i}"]
    assert same(got, expected), f"{expr} gave {got!r}, expected {expected!r}"


@pytest.mark.parametrize("i", range(len(TEMPLATES)), ids=[t or "<empty>" for t, _ in TEMPLATES])
def test_template_text(templates, i):
    batch, texts = templates
    batch.check_compiled(i)
    template, expected = TEMPLATES[i]
    assert texts[f"x{i}"] == expected


def load_text(tmp_path, text: str):
    path = tmp_path / "rules.ppflow"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return ppdsl.load(path, cache=False)


def test_datetimes_print_a_fraction_only_when_there_is_one(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> reply a "{{ now }}|{{ now + 1s }}|{{ ent_user_createtime }}|{{ first_time(2) }}"
        """,
    )
    result = rules.handle(
        {"event_seq": 1, "event_timestamp": T0 + 0.25},
        {"ent_user_createtime": "2026-01-01T08:00:00.5+08:00", "event_first_time_2": 0},
    )
    assert result["actions"][0]["text"] == (
        "2026-11-25T08:00:00.250000Z|2026-11-25T08:00:01.250000Z|2026-01-01T00:00:00.500000Z|1970-01-01T00:00:00Z"
    )
    assert result["event"]["time"] == "2026-11-25T08:00:00.250000Z"


def test_visitor_datetimes_may_be_iso_or_epoch_seconds(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> reply a "{{ ent_user_createtime }} {{ now - ent_user_createtime < 1h }}"
        """,
    )
    for value in ("2026-11-25T07:30:00Z", "2026-11-25T15:30:00+08:00", T0 - 1800, float(T0 - 1800)):
        result = rules.handle({"event_seq": 1, "event_timestamp": T0}, {"ent_user_createtime": value})
        assert result["actions"][0]["text"] == "2026-11-25T07:30:00Z true", value


def test_the_same_instant_in_different_forms_compares_equal(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> reply a "{{ first_time(2) == last_time(2) }} {{ now == last_time(2) }} {{ first_time(2) }}"
        """,
    )
    visitor = {"event_first_time_2": T0, "event_last_time_2": "2026-11-25T16:00:00+08:00"}
    result = rules.handle({"event_seq": 1, "event_timestamp": T0}, visitor)
    assert result["actions"][0]["text"] == "true true 2026-11-25T08:00:00Z"


def test_if_uses_truthiness(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> if data.v reply a "yes" else reply a "no"
        """,
    )
    for value, expected in (
        (None, "no"),
        (0, "no"),
        ("", "no"),
        ([], "no"),
        (False, "no"),
        (1, "yes"),
        ("0", "yes"),
        ([0], "yes"),
        (True, "yes"),
        (-1, "yes"),
    ):
        result = rules.handle({"event_seq": 1, "event_data": {"v": value}, "event_timestamp": T0})
        assert result["actions"][0]["text"] == expected, value


def test_let_values_in_expressions(tmp_path):
    rules = load_text(
        tmp_path,
        """\
        agent a
        on any event -> {
          let gap = now - last_time(2)
          let recent = gap < 10m
          reply a "{{ gap }} {{ recent }} {{ gap * 2 }}"
        }
        """,
    )
    result = rules.handle({"event_seq": 1, "event_timestamp": T0}, {"event_last_time_2": "2026-11-25T07:58:00Z"})
    assert result["actions"][0]["text"] == "120s true 240s"


# ----------------------------------------------------------------- evaluation never raises

HOSTILE_BODIES = [
    'reply a "{{ user_fullname }}|{{ user_web_sessions + 1 }}|{{ -user_web_sessions }}|{{ user_web_sessions / 2 }}"',
    'reply a "{{ user_web_sessions * 2.5 }}|{{ user_web_sessions % 2 }}|{{ user_web_sessions > 2 }}"',
    'reply a "{{ ent_user_createtime }}|{{ ent_user_createtime + 1h }}|{{ now - ent_user_createtime > 1d }}"',
    'reply a "{{ first_time(2) }}|{{ last_time(2) }}|{{ last_data(2) }}|{{ now - last_time(2) < 10m }}"',
    'reply a "{{ first_time(2) < now }}|{{ json(last_data(2)).plan }}|{{ event_last_data_2 }}"',
    'reply a "{{ len(user_fullname) }}|{{ lower(user_fullname) }}|{{ upper(page_url) }}|{{ len(page_url) }}"',
    "reply a \"{{ contains(page_url, 'x') }}|{{ contains(extra_field_tags, 1) }}\"",
    "reply a \"{{ startswith(user_fullname, 'a') }}\"",
    "reply a \"{{ endswith(page_url, 'x') }}|{{ matches(user_fullname, 'a') }}|{{ json(user_fullname) }}\"",
    'reply a "{{ int(user_fullname) }}|{{ float(page_url) }}|{{ str(page_url) }}|{{ exists(user_fullname) }}"',
    "reply a \"{{ 'a' in user_fullname }}|{{ user_fullname in ['a'] }}|{{ 'a' not in page_url }}\"",
    "reply a \"{{ extra_field_tags.x }}|{{ extra_field_tags['y'] }}|{{ extra_field_tags + 1 }}\"",
    'reply a "{{ extra_field_tags > 1 }}"',
    'reply a "{{ is_anonymous_user and user_fullname }}|{{ not is_anonymous_user }}|{{ is_anonymous_user or 1 }}"',
    'if is_anonymous_user reply a "anon" else reply a "known"',
    'reply a "{{ score + 1 }}|{{ score > 3 }}|{{ joined < now }}|{{ now - joined }}|{{ joined }}"',
    "reply a \"{{ busy }}|{{ busy_reader }}|{{ user_fullname or 'there' }}|{{ [user_fullname, page_url] }}\"",
    "reply a \"{{ data }}|{{ data.a.b.c }}|{{ data['k'] }}|{{ data.n + 1 }}|{{ data > 1 }}|{{ data in [1] }}\"",
    'reply a "{{ len(data) }}|{{ track_event_data }}|{{ json(track_event_data) }}|{{ int(data) }}|{{ str(data) }}"',
    'switch user_fullname { case "a" -> reply a "a" case 1 -> reply a "1" default -> reply a "default" }',
    'switch data { case "a" -> reply a "a" case 1, 2 -> reply a "n" default -> reply a "default" }',
    "{ set score = user_web_sessions  set joined = ent_user_createtime  set extra_field_x = data "
    'reply a "{{ score }}|{{ joined }}" }',
    '{ let v = user_web_sessions * 1000  reply a "{{ v }}|{{ v * v }}|{{ v / v }}" }',
    "reply a \"{{ user_channel == 1 }}|{{ user_channel != null }}|{{ user_city < 'm' }}\"",
    'reply a "{{ browser_name == page_url }}"',
    'if user_fullname and user_web_sessions > 3 or matches(page_url, "x") reply a "x" else reply a "y"',
]

HOSTILE_VISITORS = [
    {
        "user_fullname": [1, 2],
        "user_web_sessions": "x",
        "is_anonymous_user": "yes",
        "ent_user_createtime": "not a time",
        "page_url": {"a": 1},
        "extra_field_tags": 5,
        "event_first_time_2": [1],
        "event_last_time_2": {"x": 1},
        "event_last_data_2": 7,
        "score": "high",
        "joined": "yesterday",
        "user_channel": [],
        "user_city": 4,
    },
    {
        key: None
        for key in (
            "user_fullname",
            "user_web_sessions",
            "is_anonymous_user",
            "ent_user_createtime",
            "page_url",
            "extra_field_tags",
            "event_first_time_2",
            "event_last_time_2",
            "event_last_data_2",
            "score",
            "joined",
            "user_city",
            "browser_name",
        )
    },
    {
        "user_fullname": 5,
        "user_web_sessions": 1e308,
        "is_anonymous_user": 0,
        "ent_user_createtime": -1e30,
        "page_url": 3.5,
        "extra_field_tags": "tags",
        "event_first_time_2": 1e20,
        "event_last_time_2": -5,
        "event_last_data_2": "{not json",
        "score": 1.5,
        "joined": 1e300,
        "user_city": True,
    },
    {
        "user_fullname": True,
        "user_web_sessions": True,
        "is_anonymous_user": True,
        "ent_user_createtime": True,
        "page_url": False,
        "extra_field_tags": False,
        "event_first_time_2": True,
        "event_last_time_2": False,
        "event_last_data_2": True,
        "score": True,
        "joined": False,
        "browser_name": {"nested": [{"deep": None}]},
    },
    {
        "user_fullname": "",
        "user_web_sessions": -(10**30),
        "ent_user_createtime": "9999-12-31T23:59:59Z",
        "page_url": "",
        "extra_field_tags": {"x": {"y": []}},
        "event_first_time_2": "0001-01-01T00:00:00Z",
        "event_last_time_2": "9999-12-31T23:59:59.999999Z",
        "event_last_data_2": "null",
        "score": 10**40,
        "joined": "0001-01-01",
        "user_channel": "\u0000\ud7ff",
    },
]

HOSTILE_DATA = [
    None,
    "text",
    0,
    [1, [2, [3]]],
    {"a": {"b": {"c": None}}, "k": [], "n": "5"},
    True,
    -1e308,
    {"n": 10**30},
    [],
    {},
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    batch = Batch(tmp_path_factory.mktemp("hostile"), HOSTILE_BODIES, "hostile")
    assert not batch.errors, batch.errors
    return batch


@pytest.mark.parametrize("v", range(len(HOSTILE_VISITORS)))
def test_evaluation_never_raises_for_hostile_visitors(hostile, v):
    visitor = HOSTILE_VISITORS[v]
    for data in HOSTILE_DATA:
        payload = {"event_seq": 1, "event_timestamp": T0}
        if data is not None:
            payload["event_data"] = data
        result = hostile.run(payload, visitor)
        assert len(result["actions"]) == len(HOSTILE_BODIES) + 3  # the block with three sets adds three
        json.dumps(result)  # the result is plain JSON


def test_hostile_values_make_comparisons_false_and_arithmetic_null(tmp_path):
    exprs = [
        ("user_web_sessions + 1", None),
        ("user_web_sessions > 2", False),
        ("user_web_sessions < 2", False),
        ("user_web_sessions == 3", False),
        ("-user_web_sessions", None),
        ("exists(now - ent_user_createtime)", False),
        ("now > ent_user_createtime", False),
        ("now < ent_user_createtime", False),
        ("now - last_time(2) < 10m", False),
        ("now - last_time(2) > 10m", False),
        ("first_time(2) < now", False),
        ("len(user_fullname) > 0", True),
        ("'a' in user_city", False),
        ("user_city > 'a'", False),
        ("user_city < 'a'", False),
        ("extra_field_tags + 1", 6),
        ("page_url < 'a'", False),
        ("score * 2", None),
        ("score > 1", False),
        ("user_fullname or 'there'", [1, 2]),
        ("user_channel or 'none'", "none"),
    ]
    batch = Batch(tmp_path, [f"set extra_field_r{i} = {e}" for i, (e, _) in enumerate(exprs)], "hostile_values")
    assert not batch.errors, batch.errors
    result = batch.run({"event_seq": 1, "event_timestamp": T0}, HOSTILE_VISITORS[0])
    got = {e: result["visitor"][f"extra_field_r{i}"] for i, (e, _) in enumerate(exprs)}
    assert got == {e: v for e, v in exprs}


def test_statistics_of_the_wrong_type_make_comparisons_false(tmp_path):
    """A visitor's event_count_2 of the wrong type is a value of the wrong type at
    run time: `count(2) > 8` is false, not a rejected event (section 5: evaluation
    never raises)."""
    rules = load_text(
        tmp_path,
        """\
        agent a
        on event 1 -> if count(2) > 8 reply a "hot" else reply a "cold {{ count(2) + 1 }}"
        """,
    )
    for bad in ("9", [9], {"n": 9}, None, True):
        result = rules.handle({"event_seq": 1, "event_timestamp": T0}, {"event_count_2": bad})
        assert result["actions"][0]["text"].startswith("cold"), bad
