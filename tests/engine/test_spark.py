"""Replay on Spark (ppdsl/engine/spark.py) gives exactly what local replay
gives: the same final states, the same actions in the same order, the same
summary. Histories with duplicate message ids (within a visitor and across
visitors and files), rejected events, bad lines, lines without a message_id,
plain and gzip files, in both orders; on local[2] in this process (one Spark
context for the module), and once through `ppdsl replay` itself. The errors a
user can meet come out as one line, without a traceback. The standalone
cluster is in test_spark_cluster.py."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

import ppdsl
from conftest import ppdsl_command
from histories import LEAD, T0, envelope, stored_visitors, write
from ppdsl.engine.replay import StrictStop, replay
from ppdsl.store import StoreError, open_store
from servers.spark import free_port, spark_env
from sparking import lead_source, local, parquet, spark_context, untidy, without_time

pytest.importorskip("pyspark")
from ppdsl.engine import spark as engine  # noqa: E402

DAY = 86400


@pytest.fixture(scope="module")
def rules() -> Any:
    return ppdsl.load(LEAD)


@pytest.fixture(scope="module")
def source() -> str:
    return lead_source()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from spark_context("local[2]", tmp_path_factory.mktemp("spark"))


@pytest.mark.parametrize("order", ["arrival", "time"])
def test_spark_gives_the_states_actions_and_summary_of_local_replay(rules, source, spark, tmp_path, order):
    paths = untidy(tmp_path)
    expected, states, actions = local(rules, paths, tmp_path, order)
    result = engine.run(spark, source, str(LEAD), paths, str(tmp_path / "out"), order=order)
    # by time, the retry of the rejected m-1000 comes first: it is applied, the rejected line a duplicate
    assert expected.duplicate >= 60 and expected.rejected == {"arrival": 3, "time": 2}[order] and len(actions) > 50
    assert without_time(result.summary) == without_time(expected)
    assert parquet(spark, tmp_path / "out", order) == (states, actions)
    assert (result.states, result.actions) == (len(states), len(actions))


@pytest.mark.parametrize("order", ["arrival", "time"])
def test_an_id_is_forgotten_a_window_later_as_local_replay_forgets_it(rules, source, spark, tmp_path, order):
    """Over three weeks, with small batches: ids come again a day, eight days and
    ten days later, so some are remembered and some forgotten."""
    days = [envelope(n, f"v-{n % 7}", t=T0 + n * DAY / 4, name="click") for n in range(84)]
    again = [envelope(n, f"v-{n % 5}", t=T0 + (n + gap) * DAY / 4) for n in range(0, 40, 3) for gap in (4, 32, 40)]
    paths = [str(write(tmp_path / "a.jsonl", days)), str(write(tmp_path / "b.jsonl", again))]
    expected, states, actions = local(rules, paths, tmp_path, order, batch=5)
    result = engine.run(spark, source, str(LEAD), paths, str(tmp_path / "out"), order=order, batch=5)
    assert 0 < expected.duplicate < len(again)
    assert without_time(result.summary) == without_time(expected)
    assert parquet(spark, tmp_path / "out", order) == (states, actions)


def test_into_a_store_the_states_are_those_of_a_local_replay_and_a_local_replay_then_skips(
    rules, source, spark, tmp_path
):
    paths = untidy(tmp_path)
    engine.run(spark, source, str(LEAD), paths, str(tmp_path / "out"), store=lambda: open_store(str(tmp_path / "s.db")))
    replay(rules, lambda: open_store(str(tmp_path / "l.db")), paths)
    assert stored_visitors(tmp_path / "s.db") == stored_visitors(tmp_path / "l.db")
    again = replay(rules, lambda: open_store(str(tmp_path / "s.db")), paths).as_json()["events"]
    assert again["applied"] == 0 and again["already_replayed"] > 0
    with pytest.raises(StoreError, match="already holds visitor"):
        engine.run(
            spark, source, str(LEAD), paths, str(tmp_path / "o2"), store=lambda: open_store(str(tmp_path / "s.db"))
        )


def test_strict_stops_at_the_first_bad_line(source, spark, tmp_path):
    path = write(tmp_path / "h.jsonl", [envelope(1, "v-1"), envelope(2, "v-2", name="nope")])
    with pytest.raises(StrictStop, match=rf"^{path}:2: .*nope"):
        engine.run(spark, source, str(LEAD), [str(path)], str(tmp_path / "out"), strict=True)


def test_an_output_that_cant_be_written_is_a_one_line_error(source, spark, tmp_path):
    path = write(tmp_path / "h.jsonl", [envelope(1, "v-1")])
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(engine.ReplayError, match=r"^can't write Parquet into .*taken: [^\n]+$"):
        engine.run(spark, source, str(LEAD), [str(path)], str(tmp_path / "taken"))


# ------------------------------------------------------------------------------- the command


@pytest.mark.slow
def test_the_command_writes_parquet_and_prints_the_summary_of_local_replay(rules, spark, cli_env, tmp_path):
    paths = untidy(tmp_path)
    expected, states, actions = local(rules, paths, tmp_path, "time")
    temp = tmp_path / "temp"
    temp.mkdir()
    done = cli_env(
        "replay", LEAD, *paths, "--engine", "spark", "--master", "local[2]", "--order", "time",
        "--output", tmp_path / "out", "--json", "--progress", "--store", tmp_path / "s.db", env={"TMPDIR": temp},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {k: v for k, v in report.items() if k not in ("seconds", "events_per_second", "store", "output")} == (
        without_time(expected)
    )
    assert report["output"] == {"directory": str(tmp_path / "out"), "states": len(states), "actions": len(actions)}
    assert parquet(spark, tmp_path / "out", "time") == (states, actions)
    assert stored_visitors(tmp_path / "s.db") == states
    assert "spark: starting Spark on local[2]" in done.stderr and "spark: done in " in done.stderr
    assert "Traceback" not in done.stderr and "WARN" not in done.stderr
    assert list(temp.iterdir()) == []  # Spark's log is kept only when an error names it


# ----------------------------------------------------------------------------------- errors


@pytest.fixture
def cli_env():
    """The `ppdsl` command with Spark's environment (loopback, this Python on the executors)."""

    def run(*args: object, env: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*ppdsl_command(), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**spark_env(), "PYTHONIOENCODING": "utf-8", **{k: str(v) for k, v in (env or {}).items()}},
        )

    return run


def one_line_error(done: Any, code: int = 2) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "at org." not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    return line


def test_a_missing_extra_is_named(cli_env, tmp_path):
    shadow = tmp_path / "shadow" / "pyspark"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no pyspark here')\n")
    events = write(tmp_path / "h.jsonl", [envelope(1, "v-1")])
    done = cli_env(
        "replay", LEAD, events, "--engine", "spark", "--output", tmp_path / "o", env={"PYTHONPATH": str(shadow.parent)}
    )
    assert one_line_error(done) == "error: --engine spark needs the spark extra: pip install 'ppdsl[spark]'"


def test_missing_java_is_a_clear_error(cli_env, tmp_path):
    events = write(tmp_path / "h.jsonl", [envelope(1, "v-1")])
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {"PATH": str(bare), "JAVA_HOME": ""}
    done = cli_env("replay", LEAD, events, "--engine", "spark", "--output", tmp_path / "o", env=env)
    assert "needs Java 17" in one_line_error(done)


@pytest.mark.parametrize(
    ("master", "says"),
    [("nonsense", "is not a Spark master URL"), ("spark://127.0.0.1:{port}", "no Spark master answers")],
)
def test_a_bad_master_url_is_a_clear_error(cli_env, tmp_path, master, says):
    events = write(tmp_path / "h.jsonl", [envelope(1, "v-1")])
    url = master.format(port=free_port())
    done = cli_env("replay", LEAD, events, "--engine", "spark", "--master", url, "--output", tmp_path / "o")
    assert says in one_line_error(done)
