"""The on-disk compile cache: hits, misses after an edit, stale versions, damage."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ppdsl
from ppdsl.build import cache, loader

FLOW = 'agent a\non event 1 -> reply a "v1 {{ count(1) }}"\n'


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PPDSL_CACHE_DIR", str(folder))
    return folder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.ppflow"
    path.write_text(text, encoding="utf-8")
    return path


def reply_text(rules) -> str:
    return rules.handle({"event_seq": 1, "event_timestamp": 1795593600})["actions"][0]["text"]


def test_first_load_fills_the_cache_and_the_second_hits_it(tmp_path, cache_dir, monkeypatch):
    path = write(tmp_path, FLOW)
    assert reply_text(ppdsl.load(path)) == "v1 1"
    entries = sorted(p.suffix for p in cache_dir.iterdir())
    assert entries == [".bin", ".py"]

    def no_compiling(*args, **kwargs):
        raise AssertionError("a cache hit must not compile")

    monkeypatch.setattr("ppdsl.build.loader.generate_or_raise", no_compiling)
    assert reply_text(ppdsl.load(path)) == "v1 1"


def test_a_hit_imports_neither_textx_nor_jinja2(tmp_path, cache_dir):
    path = write(tmp_path, FLOW)
    ppdsl.load(path)
    probe = (
        "import sys, json, ppdsl; r = ppdsl.load(sys.argv[1]); "
        "heavy = ('textx', 'jinja2', 'arpeggio', 'ppdsl.lang.check', 'click'); "
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    env = {**os.environ, "PPDSL_CACHE_DIR": str(cache_dir)}
    # cwd=tmp_path: `python -c` puts the working directory first on sys.path,
    # and from the checkout it would import the source tree instead of this ppdsl
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, env=env, check=True, cwd=tmp_path
    )
    assert json.loads(out.stdout) == []


def test_an_edit_misses_and_recompiles(tmp_path, cache_dir):
    path = write(tmp_path, FLOW)
    assert reply_text(ppdsl.load(path)) == "v1 1"
    path.write_text(FLOW.replace("v1", "v2"), encoding="utf-8")
    assert reply_text(ppdsl.load(path)) == "v2 1"
    assert len(list(cache_dir.glob("*.bin"))) == 2


def test_the_key_covers_ppdsl_and_python_versions(monkeypatch):
    base = cache.key(FLOW, "rules.ppflow")
    assert cache.key(FLOW, "rules.ppflow") == base
    assert cache.key(FLOW + " ", "rules.ppflow") != base
    assert cache.key(FLOW, "other.ppflow") != base  # the name appears in the module's comments
    monkeypatch.setattr(cache, "__version__", "0.0.0-older")
    assert cache.key(FLOW, "rules.ppflow") != base
    monkeypatch.undo()
    monkeypatch.setattr(sys, "version", "2.7.18 (elsewhere)")
    assert cache.key(FLOW, "rules.ppflow") != base


def test_the_key_stamps_every_file_of_the_package_in_every_subfolder(tmp_path, monkeypatch):
    for name in ("__init__.py", "lang/check/types.py", "codegen/templates/module.py.j2", "grammar/ppflow.tx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    monkeypatch.setattr(cache, "_PACKAGE", str(tmp_path))
    base = cache.key(FLOW, "rules.ppflow")
    assert "lang/check/types.py:" in cache.package_stamp()
    deep = tmp_path / "lang" / "check" / "types.py"
    os.utime(deep, ns=(deep.stat().st_atime_ns, deep.stat().st_mtime_ns + 1_000_000))
    assert cache.key(FLOW, "rules.ppflow") != base  # an edit deep in a subpackage misses the cache


def test_an_entry_from_another_version_is_not_used(tmp_path, cache_dir, monkeypatch):
    path = write(tmp_path, FLOW)
    ppdsl.load(path)
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    calls = []
    original = ppdsl.build.loader.generate_or_raise
    monkeypatch.setattr("ppdsl.build.loader.generate_or_raise", lambda *a: calls.append(a) or original(*a))
    assert reply_text(ppdsl.load(path)) == "v1 1"
    assert len(calls) == 1


def test_a_damaged_entry_is_replaced(tmp_path, cache_dir):
    path = write(tmp_path, FLOW)
    ppdsl.load(path)
    for entry in cache_dir.glob("*.bin"):
        entry.write_bytes(b"not marshal data")
    assert reply_text(ppdsl.load(path)) == "v1 1"


@pytest.mark.parametrize("code", ["EVENTS = {}", "def handle(payload, visitor=None, effects=None): pass"])
def test_an_entry_without_handle_or_events_is_replaced(tmp_path, cache_dir, monkeypatch, code):
    """A valid code object that isn't a ruleset used to end in an AttributeError (item 14)."""
    path = write(tmp_path, FLOW)
    ppdsl.load(path)
    (entry,) = cache_dir.glob("*.bin")
    cache.store(str(entry.with_suffix("")), code)  # a readable entry, in the current format
    assert reply_text(ppdsl.load(path)) == "v1 1"

    def no_compiling(*args, **kwargs):
        raise AssertionError("the entry should have been replaced")

    monkeypatch.setattr("ppdsl.build.loader.generate_or_raise", no_compiling)
    assert reply_text(ppdsl.load(path)) == "v1 1"


def test_a_big_module_is_cached_with_its_flows_compiled_when_first_called(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "LAZY_LINES", 10)  # any module counts as big
    path = write(tmp_path, FLOW + 'flow other { on event 2 -> reply a "two" }\n')
    assert reply_text(ppdsl.load(path)) == "v1 1"
    (entry,) = cache_dir.glob("*.bin")
    pieces, _ = marshal.loads(entry.read_bytes())
    assert [p[0] for p in pieces if type(p) is tuple] == ["_flow_1", "_flow_2"]  # their sources

    def no_compiling(*args, **kwargs):
        raise AssertionError("a cache hit must not compile")

    with monkeypatch.context() as patch:
        patch.setattr("ppdsl.build.loader.generate_or_raise", no_compiling)
        rules = ppdsl.load(path)
        waiting = rules._flow_2.__code__
        assert reply_text(rules) == "v1 1"
        assert rules._flow_2.__code__ is waiting  # event 2's flow is compiled when event 2 comes
        two = rules.handle({"event_seq": 2, "event_timestamp": 1795593600})
        assert [a["text"] for a in two["actions"]] == ["two"]
        assert rules._flow_2.__code__ is not waiting and rules._FLOWS_BY_EVENT[2] == (rules._flow_2,)

    loader.save_compiled(rules)  # what `ppdsl run` does after its event
    pieces, _ = marshal.loads(entry.read_bytes())
    assert [p for p in pieces if type(p) is tuple] == []  # both flows ran: both are stored compiled
    with monkeypatch.context() as patch:
        patch.setattr("ppdsl.build.loader.generate_or_raise", no_compiling)
        patch.setattr("ppdsl.build.lazy.Pending.__call__", no_compiling)
        rules = ppdsl.load(path)
        two = rules.handle({"event_seq": 2, "event_timestamp": 1795593600})
        assert [a["text"] for a in two["actions"]] == ["two"]

    # a stored source that isn't one of the generated functions: the entry is replaced
    bad = (pieces[0], ("_flow_1", 1, "import os\n"), *pieces[2:])
    entry.write_bytes(marshal.dumps((bad, ())))
    calls = []
    original = ppdsl.build.loader.generate_or_raise
    monkeypatch.setattr("ppdsl.build.loader.generate_or_raise", lambda *a: calls.append(a) or original(*a))
    assert reply_text(ppdsl.load(path)) == "v1 1"
    assert len(calls) == 1


def test_ppdsl_run_keeps_the_flows_its_event_compiled_in_the_cache(tmp_path, cache_dir, cli):
    flows = "".join(f'flow f{i} {{ on event {i % 2 + 1} -> reply a "{i}" }}\n' for i in range(3000))
    path = write(tmp_path, "agent a\n" + flows)
    first = cli("run", path, "--event", "1", "--at", "1795593600", "--json")
    assert first.returncode == 0, first.stderr
    (entry,) = cache_dir.glob("*.bin")
    pieces, _ = marshal.loads(entry.read_bytes())
    assert {p[0] for p in pieces if type(p) is tuple} == {f"_flow_{i}" for i in range(2, 3001, 2)}  # event 2's
    again = cli("run", path, "--event", "1", "--at", "1795593600", "--json")
    assert again.stdout == first.stdout
    assert len(json.loads(first.stdout)["actions"]) == 1500


def test_each_ruleset_module_is_named_after_its_file(tmp_path, cache_dir):
    path = tmp_path / "lead-routing.ppflow"
    path.write_text(FLOW, encoding="utf-8")
    for _ in range(2):  # a compile, then a cache hit
        rules = ppdsl.load(path)
        assert rules.__name__ == "ppdsl_flow_lead_routing"
        assert rules.handle.__module__ == "ppdsl_flow_lead_routing"
    assert ppdsl.load(path, cache=False).__name__ == "ppdsl_flow_lead_routing"


def test_an_unwritable_cache_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("PPDSL_CACHE_DIR", str(blocker / "cache"))
    assert reply_text(ppdsl.load(write(tmp_path, FLOW))) == "v1 1"


def test_entries_are_private_whatever_the_umask(tmp_path, cache_dir):
    old = os.umask(0)
    try:
        ppdsl.load(write(tmp_path, FLOW))
    finally:
        os.umask(old)
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    assert sorted(p.stat().st_mode & 0o777 for p in cache_dir.iterdir()) == [0o600, 0o600]


def test_files_with_errors_are_never_cached(tmp_path, cache_dir):
    path = write(tmp_path, "on event 1 -> reply")
    with pytest.raises(ppdsl.CompileError):
        ppdsl.load(path)
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
