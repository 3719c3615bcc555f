"""Redis, one server or a Redis Cluster (docs/operations.md, "Redis and Redis Cluster").

`redis://[USER:PASSWORD@]HOST:PORT[/DB][?prefix=NAME&timeout=SECONDS&wait=REPLICAS]`, and
`rediss://` for TLS. A URL with several hosts (`redis://h1:7000,h2:7001/`)
names the seed nodes of a cluster; a single host that turns out to be a
cluster node (INFO says cluster_enabled) is opened as a cluster too.

One Lua script commits a whole Change: it checks every visitor's version,
every message id and every replay cursor first, and writes the states, the
message ids (with the deduplication window as their TTL) and the cursors only
if all checks pass, so a refused change writes nothing. A script can only
touch the keys of one hash slot in a cluster, so every key of a store carries
the same hash tag, `{NAME}`: a store lives on one master (and its replicas),
and a cluster holds many stores side by side.

Keys vanish silently when Redis evicts them under memory pressure, which
would break every promise; the store refuses a server whose maxmemory-policy
may evict, and every commit checks the marker key written at creation.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Optional
from collections.abc import Collection, Iterator

from .base import DEDUP_WINDOW, MOVED, SCHEMA_VERSION, Change, Conflict, CursorMoved, StoreError, dumps, masked

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry
except ImportError:  # pragma: no cover - the message is tested through open_store
    redis = None  # type: ignore[assignment]

_COMMIT = """#!lua
-- ppdsl: commit one Change; every check before any write
local meta, cursors = KEYS[1], KEYS[2]
local nv, nm, ne, nc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, window, newest = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
if redis.call('EXISTS', meta) == 0 then return 'gone' end
local a = 7
for i = 1, nv do
  if tonumber(redis.call('HGET', KEYS[2 + i], 'n') or '0') ~= tonumber(ARGV[a + 2 * i - 1]) then
    return 'conflict'
  end
end
local stored = redis.call('HGET', meta, 'newest')
local b = a + 2 * nv
for j = 1, nm do
  local t = redis.call('GET', KEYS[2 + nv + j])
  if t and (not stored or tonumber(t) >= tonumber(stored) - window) then return 'conflict' end
end
local c = b + nm
for k = 1, ne do
  if (redis.call('HGET', cursors, ARGV[c + 2 * k - 1]) or '') ~= ARGV[c + 2 * k] then return 'moved' end
end
local created = 0
for i = 1, nv do
  local version = tonumber(ARGV[a + 2 * i - 1])
  if version == 0 then created = created + 1 end
  redis.call('HSET', KEYS[2 + i], 's', ARGV[a + 2 * i], 'n', version + 1)
end
if created > 0 then redis.call('HINCRBY', meta, 'visitors', created) end
for j = 1, nm do redis.call('SET', KEYS[2 + nv + j], ARGV[b + j], 'EX', ttl) end
local d = c + 2 * ne
for k = 1, nc do redis.call('HSET', cursors, ARGV[d + 2 * k - 1], ARGV[d + 2 * k]) end
if newest ~= '' and (not stored or tonumber(newest) > tonumber(stored)) then
  redis.call('HSET', meta, 'newest', newest)
end
return 'ok'
"""
_READ = """#!lua flags=no-writes
-- ppdsl: the states and versions of visitors (load), or the newest event time and the times of message ids (seen)
local out = {}
if ARGV[1] == 'load' then
  for i, key in ipairs(KEYS) do
    local row = redis.call('HMGET', key, 's', 'n')
    out[2 * i - 1], out[2 * i] = row[1], row[2]
  end
else
  out[1] = redis.call('HGET', KEYS[1], 'newest')
  for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
end
return out
"""
_CHUNK = 1000  # keys per read script or SCAN step


class _Url:
    """The parts of a redis:// URL."""

    def __init__(self, url: str):
        shown = masked(url)
        scheme, _, rest = url.partition("://")
        self.tls = scheme == "rediss"
        auth, at, rest = rest.rpartition("@")
        user, _, password = auth.partition(":") if at else ("", "", "")
        from urllib.parse import parse_qs, unquote

        self.username = unquote(user) or None
        self.password = unquote(password) or None
        location, _, query = rest.partition("?")
        netloc, _, path = location.partition("/")
        self.hosts: list[tuple[str, int]] = []
        for host in filter(None, netloc.split(",")):
            name, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
            if not colon:
                name, port = host, "6379"
            if not port.isdigit():
                raise StoreError(f"store {shown}: the port of {host!r} is not a number")
            self.hosts.append((name.strip("[]") or "127.0.0.1", int(port)))
        if not self.hosts:
            self.hosts = [("127.0.0.1", 6379)]
        path = path.strip("/")
        if path and not path.isdigit():
            raise StoreError(f"store {shown}: the database after the host must be a number, like /0")
        self.db = int(path or 0)
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(options) - {"prefix", "timeout", "wait"}
        if unknown:
            raise StoreError(
                f"store {shown}: unknown option {sorted(unknown)[0]!r}; the options are prefix, timeout and wait"
            )
        self.prefix = options.get("prefix", "ppdsl")
        if not self.prefix or any(c in self.prefix for c in "{}*?[]\\"):
            raise StoreError(f"store {shown}: the prefix must be a name without {{}}*?[]\\ in it")
        try:
            self.timeout = float(options.get("timeout", "10"))
        except ValueError:
            raise StoreError(f"store {shown}: timeout must be a number of seconds") from None
        self.wait = int(options.get("wait", "0")) if options.get("wait", "0").isdigit() else -1
        if self.wait < 0:
            raise StoreError(f"store {shown}: wait must be a number of replicas, like wait=1")


class RedisStore:
    sql_dialect: Optional[str] = None
    policy_every = 60.0
    """Seconds between two checks that the server still doesn't evict keys."""

    def __init__(self, url: str, *, readonly: bool = False, window: float = DEDUP_WINDOW):
        if redis is None:
            raise StoreError("redis:// stores need the redis extra: pip install 'ppdsl[redis]'")
        self.url = url
        self.shown = masked(url)
        self.window = window
        parts = _Url(url)
        self._wait, self._timeout = parts.wait, parts.timeout
        tag = "{" + parts.prefix + "}"
        self._meta, self._cursors = f"{tag}:meta".encode(), f"{tag}:cursors".encode()
        self._visitor, self._message = f"{tag}:v:".encode(), f"{tag}:m:".encode()
        self._client: Any = None
        self._policy_at = -math.inf
        try:
            self._client = _connect(parts)
            self._script = self._client.register_script(_COMMIT)
            self._read = self._client.register_script(_READ)
            self._check_policy()
            self._open(readonly)
        except redis.RedisError as exc:
            self.close()
            raise self._error(exc) from None
        except StoreError:
            self.close()
            raise

    # -- opening --------------------------------------------------------------
    def _open(self, readonly: bool) -> None:
        client = self._client
        version = str(self._info("server").get("redis_version", "7"))
        if int(version.split(".")[0]) < 7:
            raise StoreError(
                f"store {self.shown}: ppdsl needs Redis 7 or later (its scripts' flags); this is {version}"
            )
        schema = client.hget(self._meta, "schema")
        if schema is None:
            if readonly:
                raise StoreError(
                    f"no store at {self.shown}: replay events into it first (ppdsl replay FLOW EVENTS --store URL)"
                )
            self._refuse_a_lost_store()
            client.hsetnx(self._meta, "schema", str(SCHEMA_VERSION))
            schema = client.hget(self._meta, "schema")
        if not schema.isdigit():
            raise StoreError(f"{self.shown} holds keys named like a ppdsl store's, but not a ppdsl store")
        if int(schema) > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.shown} was written by a newer ppdsl (store schema {int(schema)}, this ppdsl reads "
                f"{SCHEMA_VERSION}): upgrade ppdsl (pip install -U ppdsl)"
            )

    def _refuse_a_lost_store(self) -> None:
        """No marker key: a new store, unless its keys (or Redis's counters) say it was evicted."""
        left = next(iter(self._client.scan_iter(match=self._visitor + b"*", count=_CHUNK)), None) is not None
        evicted = int(self._info("stats").get("evicted_keys", 0) or 0)
        if (left or evicted) and not self._client.exists(self._meta):  # not made by another process meanwhile
            if left:
                raise StoreError(
                    f"store {self.shown}: its marker key {self._meta.decode()} is gone but its other keys are there: "
                    "Redis evicted or someone deleted keys, so states may be lost; restore a backup"
                )
            raise StoreError(  # a store whose every key was evicted looks new: don't start it again from nothing
                f"store {self.shown}: no store here, but Redis evicted {evicted} keys since it started, which may "
                "have been this store's: restore a backup, or if the store is new, run CONFIG RESETSTAT first"
            )

    def _check_policy(self) -> None:
        """Refuse a server that may evict our keys under memory pressure."""
        self._policy_at = time.monotonic()
        info = self._info("memory")
        policy = str(info.get("maxmemory_policy", "noeviction"))
        if int(info.get("maxmemory", 0) or 0) > 0 and policy != "noeviction":
            raise StoreError(
                f"store {self.shown}: Redis may evict keys (maxmemory-policy {policy}), which would lose visitor "
                "states and message ids without a trace: set maxmemory-policy noeviction (or maxmemory 0)"
            )

    def _info(self, section: str) -> Any:
        """INFO of the server (the master, in a cluster) that holds this store's keys."""
        if isinstance(self._client, RedisCluster):
            return self._client.info(section, target_nodes=self._client.get_node_from_key(self._meta))
        return self._client.info(section)

    # -- reading --------------------------------------------------------------
    def load(self, visitor_ids: Collection[str]) -> dict[str, tuple[dict[str, Any], int]]:
        ids = list(visitor_ids)
        found = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self._run(self._read, [self._visitor + _key(i) for i in chunk], ["load"])
            for visitor_id, state, version in zip(chunk, rows[::2], rows[1::2], strict=True):
                if state is not None:
                    found[visitor_id] = (json.loads(state), int(version))
        return found

    def seen(self, message_ids: Collection[str]) -> set[str]:
        ids = list(message_ids)
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            keys = [self._meta, *(self._message + _key(m) for m in chunk)]
            newest, *times = self._run(self._read, keys, ["seen"])
            horizon = -math.inf if newest is None else float(newest) - self.window
            found.update(m for m, t in zip(chunk, times, strict=True) if t is not None and float(t) >= horizon)
        return found

    def cursor(self, key: str) -> Any:
        value = self._call(lambda c: c.hget(self._cursors, _key(key)))
        return None if value is None else json.loads(value)

    def visitors(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every visitor, in id order: SCAN for the ids (on every master of a
        cluster), then their states a chunk at a time."""
        skip = len(self._visitor)
        keys = self._call(lambda c: list(c.scan_iter(match=self._visitor + b"*", count=_CHUNK)))
        ids = sorted(k[skip:].decode("utf-8", "surrogatepass") for k in keys)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            states = self.load(chunk)
            for visitor_id in chunk:
                if visitor_id in states:
                    yield visitor_id, states[visitor_id][0]

    def count(self) -> int:
        return int(self._call(lambda c: c.hget(self._meta, "visitors")) or 0)

    # -- writing --------------------------------------------------------------
    def commit(self, change: Change) -> None:
        states = change.states
        expect = [(k, "" if v is None else _canonical(v)) for k, v in change.expect.items()]
        cursors = [(k, _canonical(v)) for k, v in change.cursors.items()]
        keys = [self._meta, self._cursors]
        keys += [self._visitor + _key(i) for i in states]
        keys += [self._message + _key(m) for m, _ in change.seen]
        ttl = max(1, math.ceil(self.window))
        newest = "" if change.newest is None else repr(float(change.newest))
        args: list[Any] = [len(states), len(change.seen), len(expect), len(cursors), ttl, repr(self.window), newest]
        for state, version in states.values():
            args += (version, dumps(state))
        args += (repr(float(t)) for _, t in change.seen)
        for pairs in (expect, cursors):
            for key, value in pairs:
                args += (_key(key), value)
        if time.monotonic() - self._policy_at >= self.policy_every:
            self._call(lambda c: self._check_policy())
        outcome = self._run(self._script, keys, args, written=" (nothing of this batch was written)")
        if outcome == b"ok":
            if self._wait:
                self._replicated()
            return
        if outcome == b"conflict":
            raise Conflict("visitor or message id")
        if outcome == b"moved":
            raise CursorMoved(f"store {self.shown}: {MOVED}")
        raise StoreError(
            f"store {self.shown}: its marker key {self._meta.decode()} is gone: Redis evicted or someone deleted "
            "keys, so states may be lost; nothing of this batch was written; restore a backup"
        )

    def _replicated(self) -> None:
        """WAIT until `wait` replicas hold the commit; fewer is an error the sender retries on
        (the commit stays on the master, and the retry finds its message ids there)."""
        milliseconds = int(self._timeout * 500)  # half the time out: the answer must still arrive in time
        if isinstance(self._client, RedisCluster):
            node = self._client.get_node_from_key(self._meta)
            acked = self._call(lambda c: c.execute_command("WAIT", self._wait, milliseconds, target_nodes=node))
        else:
            acked = self._call(lambda c: c.execute_command("WAIT", self._wait, milliseconds))
        if int(acked) < self._wait:
            raise StoreError(
                f"store {self.shown}: only {int(acked)} of the {self._wait} replicas asked for (wait=) hold the "
                "last commit: check the replicas; a failover now could lose it"
            )

    # -- plumbing -------------------------------------------------------------
    def _run(self, script: Any, keys: list[bytes], args: list[Any], written: str = "") -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise self._error(exc, written) from None

    def _call(self, work: Any) -> Any:
        try:
            return work(self._client)
        except redis.RedisError as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception, written: str = "") -> StoreError:
        return StoreError(f"store {self.shown}: {_reason(exc)}{written}")

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except redis.RedisError:
                pass
            self._client = None


def _connect(parts: _Url) -> Any:
    """A client, a cluster client when the server says it is a cluster node."""
    settings: dict[str, Any] = dict(
        username=parts.username,
        password=parts.password,
        ssl=parts.tls,
        socket_timeout=parts.timeout,
        socket_connect_timeout=min(parts.timeout, 5.0),
        retry=Retry(NoBackoff(), 0),  # a commit whose reply was lost must not run twice
    )
    host, port = parts.hosts[0]
    clustered = len(parts.hosts) > 1
    if not clustered:
        client = redis.Redis(host=host, port=port, db=parts.db, **settings)
        if not client.info("cluster").get("cluster_enabled"):
            return client
        client.close()
    if parts.db:
        raise StoreError("a Redis Cluster has only database 0: leave /DB out of the URL")
    nodes = [ClusterNode(h, p) for h, p in parts.hosts]
    return RedisCluster(startup_nodes=nodes, **settings)


def _key(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _canonical(value: Any) -> str:
    """A cursor value as stored and compared: one spelling per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _reason(exc: Exception) -> str:
    """What went wrong, in one line, and what to do."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return "Redis refused the user name or password: fix them in the URL"
    if isinstance(exc, redis.TimeoutError):
        return "Redis did not answer in time: check that it runs and is reachable, or raise ?timeout="
    if isinstance(exc, redis.ConnectionError):
        return f"can't reach Redis ({text}): check that it runs and that the URL's host and port are right"
    if isinstance(exc, redis.exceptions.OutOfMemoryError) or "maxmemory" in text:
        return "Redis is out of memory (maxmemory): give it more memory"
    if text.startswith("NOREPLICAS"):
        return "the master has fewer replicas in sync than its min-replicas-to-write: check the replicas"
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return "the server is a read-only replica: give the address of a master"
    if isinstance(exc, (redis.exceptions.ClusterError, redis.exceptions.TryAgainError)):
        return f"the Redis Cluster is not ready ({text}): wait for it or check its nodes"
    return text
