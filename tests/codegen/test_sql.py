"""Visitor filters as SQL (codegen/sql.py through build/filters.py): the SQL
over a real table with the store's layout, in SQLite and in PostgreSQL (the
`db` parameter), selects exactly the visitors that the Python predicate selects. A differential test over generated
expressions and states (nulls, wrong types, times with and without a
fraction, Chinese and emoji text, big ints, missing keys), deterministic and
bounded, and hand-picked cases."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from ppdsl import CompileError
from ppdsl.build.filters import VisitorFilter, compile_filter, segment_filter
from servers.postgres import postgres_database

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
LAYOUT = "CREATE TABLE visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)"


def table(states: list[Any]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(LAYOUT)
    rows = [(f"v{i:04d}", json.dumps(s, ensure_ascii=False, separators=(",", ":")), 1) for i, s in enumerate(states)]
    conn.executemany("INSERT INTO visitors VALUES (?, ?, ?)", rows)
    return conn


class PostgresTable:
    """The `visitors` table of a PostgreSQL store, filled with states as the
    store writes them (JSONB, or JSON text in `raw` for those JSONB can't hold)."""

    def __init__(self) -> None:
        import psycopg

        from ppdsl.store.postgres import PostgresStore

        url = postgres_database()
        self.store = PostgresStore(url)
        self.conn = psycopg.connect(url, autocommit=True)

    def fill(self, states: list[Any]) -> PostgresTable:
        from ppdsl.store.postgres import encode

        rows = []
        for i, s in enumerate(states):
            try:
                jsonb, raw = encode(s)
            except ValueError:  # NaN, which no store writes, but a table may hold
                jsonb, raw = None, json.dumps(s, ensure_ascii=False)
            rows.append((f"v{i:04d}", jsonb, raw))
        self.conn.execute("TRUNCATE visitors")
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO visitors VALUES (%s, %s::jsonb, %s, 1)", rows)
        return self

    def execute(self, query: str, params: Any = ()) -> Any:
        return self.store.execute(query, params)


_tables: dict[str, PostgresTable] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> str:
    """The database the SQL runs in."""
    return str(request.param)


def filled(states: list[Any], db: str) -> Any:
    if db == "sqlite":
        return table(states)
    if "table" not in _tables:
        _tables["table"] = PostgresTable()
    return _tables["table"].fill(states)


def check_agrees(f: VisitorFilter, states: list[Any], db: str = "sqlite") -> dict[int, int]:
    """select() gives exactly the predicate's visitors; rows that SQL decides
        alone (decision 0 or 1) agree with the predicate one by one, and the
    prefilter (what an index finds) keeps every selected row. Returns how
        many rows got each decision."""
    f = f.on(db)
    conn = filled(states, db)
    state = f.dialect.state_text
    texts = [row[0] for row in conn.execute(f"SELECT {state} FROM visitors ORDER BY id")]
    expected = [f"v{i:04d}" for i, text in enumerate(texts) if f.matches(json.loads(text))]
    assert [visitor_id for visitor_id, _ in f.select(conn)] == expected
    decisions = {0: 0, 1: 0, 2: 0}
    if f.sql is not None:
        query = f"SELECT id, {state}, {f.sql.decision}, {f.sql.prefilter or 1} FROM visitors ORDER BY id"
        for visitor_id, text, decision, candidate in conn.execute(query, f.sql.params):
            decisions[decision] += 1
            selected = f.matches(json.loads(text))
            if decision != 2:
                assert bool(decision) is selected, (visitor_id, text, decision)
            assert candidate or not selected, (visitor_id, text, "missed by the prefilter")
    return decisions


# ------------------------------------------------------------------ generated states

# values at and next to the boundaries that the generated expressions test
OFFSETS = [timedelta(0), timedelta(hours=1), timedelta(hours=2), timedelta(days=1), timedelta(days=2)]
OFFSETS += [timedelta(days=3), timedelta(days=7)]
NUDGES = [timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1), timedelta(seconds=1)]
times = st.one_of(
    st.builds(
        lambda o, sign, n: NOW + sign * o + n,
        st.sampled_from(OFFSETS),
        st.sampled_from([1, -1]),
        st.sampled_from(NUDGES),
    ),
    st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2026, 12, 31), timezones=st.just(timezone.utc)),
)
time_texts = st.one_of(
    times.map(lambda d: d.replace(tzinfo=None).isoformat() + "Z"),  # canonical, with and without a fraction
    times.map(lambda d: d.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"),
    times.map(lambda d: d.isoformat()),  # +00:00
    times.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    times.map(lambda d: str(int(d.timestamp()))),
    st.sampled_from(
        [
            "2026-02-30T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "0999-01-01T00:00:00Z",
            "2026-11-25T08:00Z",
            "9999-12-31T23:00:00Z",
            "1000-01-01T00:00:00.000001Z",
        ]
    ),
)
texts = st.one_of(
    st.sampled_from(["", "Beijing", "北京", "上海市", "😀", "a😀b", "x\x00y", "\u2028", "NaN", "a", "ab", "Ab", "Bei"]),
    st.text(alphabet=st.sampled_from("ab北😀\x00é\ud7ff\ue000"), max_size=4),
)
ints = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([-1, 0, 1, 8, 9, 999999999999999, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**30, 2**53 + 1]),
)
floats = st.one_of(st.sampled_from([0.0, -0.0, 8.5, 8.0, 1e308, 0.1, float("nan"), float("inf")]), st.floats(-20, 20))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts, time_texts, time_texts)
values = st.one_of(
    scalars,
    st.lists(st.one_of(st.none(), st.booleans(), st.integers(-2, 2), texts), max_size=3),
    st.dictionaries(texts, st.integers(0, 2), max_size=2),
)
canonical = times.map(lambda d: d.replace(tzinfo=None).isoformat() + "Z")


def usually(typical: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values of the variable's own type, sometimes anything."""
    return st.one_of(typical, typical, typical, values)


states = st.fixed_dictionaries(
    {},
    optional={
        "event_count_1": usually(ints),
        "event_count_2": usually(ints),
        "event_first_time_1": usually(canonical),
        "event_last_time_2": usually(canonical),
        "ent_user_createtime": usually(time_texts),
        "user_city": usually(texts),
        "user_fullname": usually(texts),
        "is_anonymous_user": usually(st.booleans()),
        "user_web_sessions": usually(ints),
        "extra_field_tags": usually(st.lists(texts, max_size=3)),
    },
)
state_lists = st.lists(states, min_size=1, max_size=12)

# ------------------------------------------------------------------ generated expressions

SLOTS = [
    "count(1)",
    "count(2)",
    "event_count_1",
    "first_time(1)",
    "last_time(2)",
    "ent_user_createtime",
    "user_city",
    "user_fullname",
    "is_anonymous_user",
    "user_web_sessions",
    "extra_field_tags",
]
CONSTANTS = [
    "0",
    "8",
    "-1",
    "8.5",
    "999999999999999",
    "999999999999999 * 99999999",
    '"Beijing"',
    '"北京"',
    '"😀"',
    '""',
    '"a"',
    '"x\\u0000y"',
    "null",
    "true",
    "false",
    "now",
    "now - 3d",
    "now + 1h",
    "7d",
    '["Beijing", "北京", 1, true, null]',
    '["a"]',
]
DIFFS = ["7d", "1h", "0s", "null", "5", "-2d"]
SHIFTS = ["1d", "2h", "-3d"]
OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


@st.composite
def atoms(draw: st.DrawFn) -> str:
    slot, const, op = draw(st.sampled_from(SLOTS)), draw(st.sampled_from(CONSTANTS)), draw(st.sampled_from(OPS))
    form = draw(st.integers(0, 9))
    if form == 0:
        return slot
    if form == 1:
        return f"{const} {op} {slot}"
    if form == 2:
        func = draw(st.sampled_from(["exists", "contains", "startswith", "endswith"]))
        return f"exists({slot})" if func == "exists" else f"{func}({slot}, {draw(st.sampled_from(CONSTANTS))})"
    if form == 3:
        time, bound = draw(st.sampled_from(["first_time(1)", "last_time(2)"])), draw(st.sampled_from(DIFFS))
        return f"now - {time} {op} {bound}"
    if form == 4:
        time, shift = draw(st.sampled_from(["last_time(2)", "ent_user_createtime"])), draw(st.sampled_from(SHIFTS))
        return f"{time} + {shift} {op} now"
    if form == 5:
        return f"0 < {slot} <= {const}"
    if form == 6:
        return f"{slot} + 1 > 3"  # arithmetic on a visitor value: evaluated in Python
    return f"{slot} {op} {const}"


expressions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"not {x}"),
    ),
    max_leaves=4,
)


def _boundary_states() -> list[dict[str, Any]]:
    """One variable set to a value at or next to a boundary the expressions test, for every variable."""
    instants = [NOW + sign * o + n for o in OFFSETS for sign in (1, -1) for n in NUDGES]
    stamps = [t.replace(tzinfo=None).isoformat() + "Z" for t in instants]
    stamps += [t.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z" for t in instants[::3]]
    stamps += ["2026-11-25T24:00:00Z", "2026-02-29T08:00:00Z", "2024-02-29T08:00:00Z", "0000-11-25T08:00:00Z"]
    numbers = [-1, 0, 1, 7, 8, 9, 8.5, 999999999999999, 2**63, True, False, "8", None, [], {}]
    words = ["", "Beijing", "北京", "Bei", "jing", "a", "x\x00y", "😀", "Li Lei 😀", 8, None, True, []]
    pools = {"event_count_1": numbers, "event_count_2": numbers, "user_web_sessions": numbers}
    pools.update({"event_first_time_1": stamps, "event_last_time_2": stamps, "ent_user_createtime": stamps})
    pools.update({"user_city": words, "user_fullname": words, "is_anonymous_user": [True, False, 0, 1, "", None]})
    pools["extra_field_tags"] = [[], ["a"], ["Beijing", 1], {"a": 1}, {}, "a", "Bei", None]
    single = [{key: value} for key, pool in pools.items() for value in pool]
    return single + [{**state, "extra_field_x": float("nan")} for state in single[::5]]  # JSON1 can't read NaN


BOUNDARIES = _boundary_states()


def compiled(text: str) -> VisitorFilter:
    try:
        return compile_filter(text, now=NOW)
    except CompileError:
        assume(False)  # a type error the compiler proves, e.g. count(1) > "a"
        raise


@settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(st.one_of(atoms(), expressions), state_lists)
def test_sql_selects_exactly_what_python_selects(db: str, text: str, visitors: list[dict[str, Any]]) -> None:
    check_agrees(compiled(text), visitors + BOUNDARIES, db)


# ------------------------------------------------------------------ hand-picked cases

CANONICAL = [
    {},
    {"event_count_2": 9, "event_last_time_2": "2026-11-24T08:00:00Z", "user_city": "北京"},
    {"event_count_2": 3, "event_last_time_2": "2026-11-01T08:00:00.500000Z", "user_city": "Beijing"},
    {"event_count_2": 12, "event_last_time_2": "2026-11-18T08:00:00.000001Z", "is_anonymous_user": False},
    {"event_count_2": 9, "event_last_time_2": "2026-11-18T07:59:59.999999Z", "user_fullname": "Li Lei 😀"},
    {"event_count_2": 0, "user_city": "", "extra_field_tags": ["vip", "北京"]},
]
UNREADABLE = {"event_count_2": 9, "event_last_time_2": "2026-11-24T08:00:00Z", "extra_field_x": float("inf")}
ODD = [
    {"event_count_2": "9"},
    {"event_count_2": True},
    {"event_count_2": 9.5},
    {"event_count_2": 8.5},
    UNREADABLE,
    {"event_count_2": 2**64},
    {"event_count_2": None},
    {"event_count_2": [9]},
    {"event_last_time_2": 1795593600},
    {"event_last_time_2": "2026-11-24 08:00:00"},
    {"event_last_time_2": "2026-02-30T00:00:00Z"},
    {"event_last_time_2": "2026-11-24T08:00:00+08:00"},
    {"user_city": "Bei\x00jing"},
    {"user_city": float("nan")},
    {"user_city": ["Beijing"]},
    {"user_city": {"Beijing": 1}},
]


@pytest.mark.parametrize(
    "text",
    [
        "count(2) > 8",
        "count(2) > 8 and now - last_time(2) < 7d",
        "last_time(2) > now - 7d",
        "last_time(2) >= now - 7d or not exists(last_time(2))",
        'user_city == "北京" or user_city == "Beijing"',
        'user_city in ["Beijing", "北京"]',
        'user_city != "Beijing"',
        'user_city not in ["Beijing"]',
        '"Bei" in user_city',
        '"vip" in extra_field_tags',
        'contains(extra_field_tags, "北京")',
        'startswith(user_fullname, "Li")',
        'endswith(user_fullname, "😀")',
        "not is_anonymous_user",
        "user_city",
        "extra_field_tags",
        "count(2) == null",
        "1 < count(2) <= 9",
    ],
)
def test_common_filters_push_down_and_agree(db: str, text: str) -> None:
    f = compile_filter(text, now=NOW).on(db)
    assert f.sql is not None, f.reason
    decisions = check_agrees(f, CANONICAL + ODD, db)
    # states in the form ppdsl writes are decided by the database alone
    assert check_agrees(f, CANONICAL, db)[2] == 0
    assert decisions[0] + decisions[1] >= len(CANONICAL)


def test_the_selected_visitors_of_a_typical_filter() -> None:
    f = compile_filter("count(2) > 8 and now - last_time(2) < 7d", now=NOW)
    conn = table(CANONICAL)
    assert [visitor_id for visitor_id, _ in f.select(conn)] == ["v0001", "v0003"]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("count(2) + count(3) > 10", "arithmetic ('+') on a visitor value can't be computed inside the database"),
        ('lower(user_city) == "beijing"', "lower() of a visitor value can't be computed inside the database"),
        ("count(2) > count(3)", "it compares two visitor values with each other"),
        ("count(2) > 999999999999999 * 99999999", "a number in it is too large for a 64-bit integer"),
    ],
)
def test_a_filter_that_cant_be_pushed_down_says_why_and_runs_in_python(db: str, text: str, reason: str) -> None:
    f = compile_filter(text, now=NOW).on(db)
    assert f.sql is None
    assert f.reason == reason
    assert f.plan == f"evaluated in Python: {reason}"
    check_agrees(f, CANONICAL + ODD, db)


@pytest.mark.parametrize("name", ["data", "track_event_count", "track_event_data"])
def test_the_current_event_is_a_compile_error(name: str) -> None:
    with pytest.raises(CompileError) as exc:
        compile_filter(f"exists({name})")
    assert f"unknown name '{name}'" in exc.value.report()
    assert "no current event" in exc.value.report()


def test_bad_expressions_raise_compile_error_with_diagnostics() -> None:
    with pytest.raises(CompileError) as exc:
        compile_filter('count(2) > "8" and user_citty == "x"')
    report = exc.value.report()
    assert "error[E" in report and "did you mean 'user_city'?" in report


def test_now_is_the_time_of_the_query(db: str) -> None:
    f = compile_filter("last_time(2) > now - 1h")
    assert abs(f.now - datetime.now(timezone.utc)) < timedelta(minutes=1)
    recent = {"event_last_time_2": (f.now - timedelta(minutes=30)).replace(tzinfo=None).isoformat() + "Z"}
    assert f.matches(recent)
    assert check_agrees(f, [recent, {}], db) == {0: 1, 1: 1, 2: 0}


def test_a_state_that_is_not_an_object_is_never_selected(db: str) -> None:
    f = compile_filter("not exists(user_city)", now=NOW)
    assert not f.matches([1]) and not f.matches("x") and f.matches({})
    check_agrees(f, [[1], "x", 5, None, {}], db)


SEGMENTS = """\
event 1 click
event 2 view_pricing
field plan string
segment active = count(view_pricing) > 8 and now - last_time(view_pricing) < 7d
segment chinese = user_city in ["北京", "上海"]
segment hot = active and not chinese or plan == "pro"
segment reacting = data.plan == "pro"
on event click -> if hot reply someone
"""


def test_segments_from_a_file_push_down(db: str, tmp_path: Any) -> None:
    path = tmp_path / "seg.ppflow"
    path.write_text(SEGMENTS, encoding="utf-8")
    f = segment_filter(f"{path}:hot", now=NOW).on(db)
    assert f.sql is not None, f.reason
    states = CANONICAL + ODD + [{"plan": "pro"}, {"event_count_2": 9, "event_last_time_2": "2026-11-24T08:00:00Z"}]
    check_agrees(f, states, db)
    assert [s for s in states if f.matches(s)] == [CANONICAL[3], UNREADABLE, states[-2], states[-1]]


def test_segment_errors(tmp_path: Any) -> None:
    path = tmp_path / "seg.ppflow"
    path.write_text(SEGMENTS, encoding="utf-8")
    with pytest.raises(CompileError) as exc:
        segment_filter(f"{path}:reacting")
    assert "seg.ppflow:7:" in exc.value.report() and "unknown name 'data'" in exc.value.report()
    with pytest.raises(ValueError, match="has no segment 'nope'; its segments are: active, chinese, hot, reacting"):
        segment_filter(f"{path}:nope")
    with pytest.raises(ValueError, match="FILE.ppflow:NAME"):
        segment_filter(str(path))
    bad = tmp_path / "bad.ppflow"
    bad.write_text("segment s = count(2) > \n", encoding="utf-8")
    with pytest.raises(CompileError):
        segment_filter(f"{bad}:s")


def test_user_text_is_bound_never_spliced(db: str) -> None:
    f = compile_filter('user_city == "x\') OR 1=1 --" or startswith(user_fullname, "\'")', now=NOW).on(db)
    assert f.sql is not None
    assert "OR 1=1" not in f.sql.decision and "x'" not in f.sql.decision
    assert "x') OR 1=1 --" in f.sql.params
    check_agrees(f, [{"user_city": "x') OR 1=1 --"}, {"user_city": "y"}, {"user_fullname": "'a"}], db)


def test_a_field_named_in_chinese_is_a_quoted_json_path(tmp_path: Any) -> None:
    path = tmp_path / "cn.ppflow"
    path.write_text('field 城市 string\nsegment 北京客户 = 城市 == "北京"\n', encoding="utf-8")
    f = segment_filter(f"{path}:北京客户", now=NOW)
    assert f.sql is not None and "'$.\"城市\"'" in f.sql.decision
    assert check_agrees(f, [{"城市": "北京"}, {"城市": "上海"}, {}]) == {0: 2, 1: 1, 2: 0}


def test_a_lower_bound_names_the_index_that_serves_it() -> None:
    f = compile_filter("count(2) > 15 and now - last_time(2) < 3d", now=NOW)
    assert f.sql is not None and f.sql.indexes == (
        'CREATE INDEX IF NOT EXISTS "visitors_event_count_2" ON visitors '
        "(CASE WHEN json_valid(state) THEN json_extract(state, '$.\"event_count_2\"') ELSE 9e999 END)",
    )
    assert "index" in f.plan
    conn = table(CANONICAL + ODD)
    conn.execute(f.sql.indexes[0])
    query, params = f.sql.query()
    assert "USING INDEX visitors_event_count_2" in str(conn.execute("EXPLAIN QUERY PLAN " + query, params).fetchall())
    check_agrees(f, CANONICAL + ODD)
    assert compile_filter("count(2) > -1", now=NOW).sql.indexes == ()  # a missing count (0) is selected


def test_wide_filters_push_down_and_deep_ones_fall_back() -> None:
    wide = compile_filter(" and ".join(f"count(2) > {i}" for i in range(150)), now=NOW)
    assert wide.sql is not None, wide.reason
    check_agrees(wide, CANONICAL + ODD)
    deep = compile_filter("not " * 40 + "count(2) > 1", now=NOW)
    assert deep.reason == "SQLite can't compile its SQL (parser stack overflow)"
    check_agrees(deep, CANONICAL + ODD)


def test_the_index_named_for_postgresql_can_be_made_and_serves_the_filter() -> None:
    f = compile_filter("count(2) > 15 and now - last_time(2) < 3d", now=NOW).on("postgresql")
    assert f.sql is not None and len(f.sql.indexes) == 1 and "pushed down to PostgreSQL (JSONB)" in f.plan
    table = filled(CANONICAL + ODD, "postgresql")
    table.conn.execute(f.sql.indexes[0])
    table.conn.execute("SET enable_seqscan = off")  # a table this small is scanned otherwise
    query, params = f.sql.query()
    bound = {f"p{n}": value for n, value in enumerate(params, 1)}
    plan = "\n".join(row[0] for row in table.conn.execute("EXPLAIN " + query, bound))
    assert "visitors_event_count_2" in plan
    check_agrees(f, CANONICAL + ODD, "postgresql")
