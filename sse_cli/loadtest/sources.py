"""Where `bench`'s streams connect from (`--local-ips`): k6's syntax, parsed and checked.

A comma-separated list of addresses, ranges (`127.0.0.2-127.0.0.9`, both ends included) and
CIDRs (`127.0.0.0/29`), IPv4 and IPv6, as k6's `--local-ips`. As in k6, an IPv4 network
larger than /31 leaves out its first and last addresses (network and broadcast). The pool is
a list of blocks, never a list of every address, so a /64 costs what a single address does.
Stream i connects from address i mod N: the streams spread round-robin.

The kernel gives each (source address, destination) pair the ports of
`ip_local_port_range`, about 28,000 by default: `port_shortfall` says up front when `-c`
needs more than the source addresses hold. Stdlib only.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sse_cli.errors import UsageError

PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
FLAG = "--local-ips"
EXAMPLE = "e.g. 127.0.0.2-127.0.0.9, 10.0.0.0/29 or ::1"


@dataclass(frozen=True)
class Block:
    """A run of consecutive addresses of one family: the first, as a number, and how many."""

    first: int
    count: int
    version: int

    def address(self, offset: int) -> str:
        number = self.first + offset
        if self.version == 4:
            return str(ipaddress.IPv4Address(number))
        return str(ipaddress.IPv6Address(number))

    def __str__(self) -> str:
        if self.count == 1:
            return self.address(0)
        return f"{self.address(0)}-{self.address(self.count - 1)}"


@dataclass(frozen=True)
class SourcePool:
    """The source addresses of one run, in the order the streams take them."""

    blocks: tuple[Block, ...]

    @property
    def count(self) -> int:
        return sum(block.count for block in self.blocks)

    def address(self, index: int) -> str:
        """Stream `index`'s source address: round-robin over the whole pool."""
        index %= self.count
        for block in self.blocks:
            if index < block.count:
                return block.address(index)
            index -= block.count
        raise AssertionError("unreachable: index was reduced modulo the count")

    def addresses(self, limit: int) -> Iterator[str]:
        """The first `limit` addresses (the ones `limit` streams use)."""
        left = limit
        for block in self.blocks:
            for offset in range(min(block.count, left)):
                yield block.address(offset)
            left -= min(block.count, left)
            if not left:
                return

    def of_version(self, version: int) -> SourcePool:
        """The addresses that can reach a destination of this IP version."""
        return SourcePool(tuple(b for b in self.blocks if b.version == version))

    def shown(self) -> list[str]:
        """The blocks as the report shows them: `127.0.0.2-127.0.0.3`, `::1`."""
        return [str(block) for block in self.blocks]


def parse_local_ips(text: str) -> SourcePool:
    """`--local-ips`' value as a pool; a UsageError (exit status 2) names the bad item."""
    items = [item.strip() for item in text.strip().split(",")]
    return SourcePool(tuple(_block(item) for item in items))


def _block(item: str) -> Block:
    if not item:
        raise UsageError(f"{FLAG}: an empty item in the list", EXAMPLE)
    if "/" in item:
        return _network(item)
    first, dash, last = item.partition("-")
    start = _address(first.strip(), item)
    end = _address(last.strip(), item) if dash else start
    if start.version != end.version:
        raise UsageError(f"{FLAG}: {item!r} mixes IPv4 and IPv6", EXAMPLE)
    if int(end) < int(start):
        raise UsageError(f"{FLAG}: {item!r} ends before it starts", EXAMPLE)
    return Block(int(start), int(end) - int(start) + 1, start.version)


def _address(text: str, item: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(
            f"{FLAG}: {item!r} is not an IP address, a range (A-B) or a CIDR (A/N)", EXAMPLE
        ) from None


def _network(item: str) -> Block:
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError as exc:
        raise UsageError(f"{FLAG}: {item!r} is not a CIDR: {exc}", EXAMPLE) from None
    first, count = int(network.network_address), network.num_addresses
    if network.version == 4 and count > 2:  # as k6: no network or broadcast address
        first, count = first + 1, count - 2
    return Block(first, count, network.version)


def check_bindable(pool: SourcePool, streams: int) -> None:
    """Bind each address the streams will use, once, to a free port: an address that is
    not on this machine is a usage error now, in one line, rather than an error per stream."""
    for address in pool.addresses(streams):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, 0))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise UsageError(
                        f"{FLAG}: {address} is not an address of this machine (EADDRNOTAVAIL)",
                        "list the machine's addresses with ip -brief address",
                    ) from None
                raise UsageError(f"{FLAG}: cannot bind {address}: {exc.strerror}") from None


def local_ports() -> int | None:
    """How many ephemeral ports one source address has per destination (None: unknown)."""
    try:
        low, high = (int(n) for n in PORT_RANGE.read_text().split())
    except (OSError, ValueError):
        return None
    return max(high - low + 1, 0)


def port_shortfall(streams: int, addresses: int, ports: int | None) -> str | None:
    """The warning when `streams` need more ports than `addresses` source addresses hold."""
    if ports is None or streams <= ports * addresses:
        return None
    held = f"{addresses:,} source addresses" if addresses > 1 else "one source address"
    return (
        f"{streams:,} streams need more local ports than {held} hold ({ports:,} each per "
        f"destination, from {PORT_RANGE}): streams past {ports * addresses:,} fail as "
        f"'no-ports' errors; spread them with {FLAG} (e.g. 127.0.0.2-127.0.0.9 on loopback)"
    )


__all__ = [
    "Block",
    "SourcePool",
    "check_bindable",
    "local_ports",
    "parse_local_ips",
    "port_shortfall",
]
