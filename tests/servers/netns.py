"""Test hosts of their own on this machine: a network namespace joined to the
host by veth pairs (iproute2), so a service inside it reaches a store on the
host across a network link that a test can take down, not over loopback.

Each link is a /30 of 100.64.0.0/10 (shared address space, unused here),
numbered from the process id so parallel test workers don't collide."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import need

_BASE = ipaddress.IPv4Address("100.64.0.0")
_made = 0  # namespaces made by this process
_NOWHERE = "02:00:00:00:00:01"  # a locally administered hardware address no interface here has


@dataclass(frozen=True)
class Link:
    host_address: str  # the host's end: a server on the host listens here
    address: str  # the namespace's end
    host_interface: str
    interface: str  # the namespace's end of the veth pair


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Namespace:
    """`ip netns add` with `links` veth pairs to the host; deleted by close()."""

    def __init__(self, links: int = 1):
        global _made
        _made += 1
        number = (os.getpid() % 16_384) * 16 + _made % 16  # (number * 4 + link) * 4 < 2**22: inside the /10
        self.name = f"ppdsl-{number}"
        self.links: list[Link] = []
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            for k in range(links):
                block = _BASE + (number * 4 + k) * 4
                host_if, inner_if = f"pp{number:x}h{k}", f"pp{number:x}n{k}"
                _ip("link", "add", host_if, "type", "veth", "peer", "name", inner_if)
                _ip("link", "set", inner_if, "netns", self.name)
                _ip("addr", "add", f"{block + 1}/30", "dev", host_if)
                _ip("link", "set", host_if, "up")
                _ip("-n", self.name, "addr", "add", f"{block + 2}/30", "dev", inner_if)
                _ip("-n", self.name, "link", "set", inner_if, "up")
                self.links.append(Link(str(block + 1), str(block + 2), host_if, inner_if))
        except BaseException:
            self.close()
            raise

    def command(self) -> list[str]:
        """The prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def take_down(self, link: int) -> None:
        """Cut a link as a network partition does: both ends stay up, with their
        routes, and every packet between them is lost without a word. Each end
        is told a wrong hardware address for the other, so the other's
        interface drops the frames as meant for someone else."""
        a = self.links[link]
        _ip("neigh", "replace", a.address, "lladdr", _NOWHERE, "dev", a.host_interface, "nud", "permanent")
        _ip(
            "-n",
            self.name,
            "neigh",
            "replace",
            a.host_address,
            "lladdr",
            _NOWHERE,
            "dev",
            a.interface,
            "nud",
            "permanent",
        )

    def bring_up(self, link: int) -> None:
        a = self.links[link]  # forgetting the wrong addresses: the next packet asks for the right one (ARP)
        _ip("neigh", "del", a.address, "dev", a.host_interface)
        _ip("-n", self.name, "neigh", "del", a.host_address, "dev", a.interface)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)  # its veth pairs go with it


@pytest.fixture
def namespaces() -> Iterator[list[Namespace]]:
    """Namespaces a test makes (namespaces.append(Namespace(...))), deleted after it."""
    need(shutil.which("ip") is not None and os.geteuid() == 0, "iproute2 and root (for ip netns)")
    made: list[Namespace] = []
    yield made
    for namespace in made:
        namespace.close()
