"""The service's settings, as `ppdsl serve` takes them. They travel to uvicorn's
worker processes as JSON in an environment variable, so every worker builds
the same app."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Optional

ENV = "PPDSL_SERVE_CONFIG"


@dataclass
class Config:
    flow: str
    store: str = "visitors.db"
    write_keys: list[str] = field(default_factory=list)
    webhook: Optional[str] = None
    webhook_secret: Optional[str] = None
    webhook_timeout: float = 2.0
    admin_token: Optional[str] = None
    rate_limit: Optional[str] = None
    """limits' notation, e.g. "100/second"."""
    log_json: bool = False
    watch: bool = True
    """Reload the flow when its file changes."""

    def to_env(self) -> None:
        os.environ[ENV] = json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Config:
        return cls(**json.loads(os.environ[ENV]))
