"""The baseline of benchmarks/serve.py: a hand-written Starlette endpoint that
takes one envelope, runs the compiled handle() on the visitor's state and
commits it to SQLite, one transaction per request, with no batching.

    python benchmarks/serve_baseline.py FLOW.ppflow STORE.db PORT
"""

from __future__ import annotations

import json
import sqlite3
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import ppdsl


def app(flow: str, path: str) -> Starlette:
    rules = ppdsl.load(flow)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS visitors (id TEXT PRIMARY KEY, state TEXT NOT NULL)")
    con.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY)")

    async def track(request: Request) -> JSONResponse:
        envelope = json.loads(await request.body())
        visitor_id, message_id = envelope["visitor_id"], envelope["message_id"]
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM seen WHERE id = ?", (message_id,)).fetchone():
                con.execute("ROLLBACK")
                return JSONResponse({"results": [{"status": "duplicate"}]})
            row = con.execute("SELECT state FROM visitors WHERE id = ?", (visitor_id,)).fetchone()
            result = rules.handle({"track_event": envelope["track_event"]}, json.loads(row[0]) if row else {})
            con.execute("INSERT OR REPLACE INTO visitors VALUES (?, ?)", (visitor_id, json.dumps(result["visitor"])))
            con.execute("INSERT INTO seen VALUES (?)", (message_id,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return JSONResponse({"results": [{"status": "applied", "actions": result["actions"]}]})

    return Starlette(routes=[Route("/v1/track", track, methods=["POST"])])


if __name__ == "__main__":
    flow, store, port = sys.argv[1:4]
    uvicorn.run(app(flow, store), host="127.0.0.1", port=int(port), access_log=False, log_level="warning")
