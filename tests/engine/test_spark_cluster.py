"""Replay on a Spark standalone cluster of a master and two workers on
loopback (tests/servers/spark.py): the executors are other processes, started
by the workers, and still give exactly what local replay gives."""

from __future__ import annotations

from typing import Any

import pytest

import ppdsl
from histories import LEAD
from sparking import lead_source, local, parquet, spark_context, untidy, without_time


@pytest.fixture(scope="module")
def cluster_context(spark_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from spark_context(spark_cluster.url, tmp_path_factory.mktemp("spark"))


@pytest.mark.slow
@pytest.mark.parametrize("order", ["arrival", "time"])
def test_a_standalone_cluster_gives_what_local_replay_gives(cluster_context, tmp_path, order):
    from ppdsl.engine.spark import run

    paths = untidy(tmp_path)
    expected, states, actions = local(ppdsl.load(LEAD), paths, tmp_path, order)
    result = run(cluster_context, lead_source(), str(LEAD), paths, str(tmp_path / "out"), order=order)
    executors = cluster_context._jsc.sc().statusTracker().getExecutorInfos()
    assert cluster_context.master.startswith("spark://") and len(executors) == 3  # the driver and one per worker
    assert without_time(result.summary) == without_time(expected)
    assert parquet(cluster_context, tmp_path / "out", order) == (states, actions)
