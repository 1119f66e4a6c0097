"""The SSRF guard of `fetch_url`: which addresses a fetch may connect to.

Every address a host name resolves to must be publicly routable, or the fetch is refused: loopback,
private, link-local, shared (CGNAT), multicast, reserved and unspecified addresses are refused, also
when wrapped in IPv6 (IPv4-mapped, 6to4, NAT64, Teredo). Cloud metadata endpoints are refused even when
private addresses are allowed, and inside an allowed network, unless listed by address.

`SIDEKICK_ALLOW_PRIVATE_URLS` relaxes the policy: `1` (or true/yes) allows every non-metadata address;
a comma-separated list of addresses and networks (`127.0.0.1,10.1.0.0/16`) allows just those.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Resolver = Callable[[str, int], Iterable[str]]

ALLOW_ENV = "SIDEKICK_ALLOW_PRIVATE_URLS"

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """A URL's host is, or resolves to, an address the policy refuses."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, through the system resolver (socket.getaddrinfo)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_address(text: str) -> IPAddress:
    """An address literal without its IPv6 zone id (`fe80::1%eth0`, `%25eth0` as URLs spell it): the zone
    names an interface, not another host, and an address with a scope compares unequal to the same one
    without, which would slip past the metadata check. ValueError when `text` is not an address."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def is_metadata(ip: IPAddress) -> bool:
    """True for a cloud metadata endpoint, also in an IPv6 wrapping."""
    inner = _embedded_ipv4(ip)
    return ip in METADATA_ADDRESSES or (inner is not None and inner in METADATA_ADDRESSES)


def refusal_reason(ip: IPAddress) -> str | None:
    """Why the policy refuses `ip` (e.g. "a loopback address"), or None when it is public."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    inner = _embedded_ipv4(ip)
    if inner is not None:
        reason = refusal_reason(inner)
        return f"{reason} inside an IPv6 address" if reason else None
    for attr, reason in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attr):
            return reason
    if not ip.is_global:
        return "a non-public address"
    return None


@dataclass
class Policy:
    """Which addresses may be connected to; `from_env()` reads SIDEKICK_ALLOW_PRIVATE_URLS."""

    allow_all_private: bool = False
    allowed: list[IPNetwork] = field(default_factory=list)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Policy:
        """The policy the environment asks for (read at each call, so tests and operators can change it)."""
        value = (os.environ if environ is None else environ).get(ALLOW_ENV, "").strip()
        if value.lower() in ("1", "true", "yes", "on"):
            return cls(allow_all_private=True)
        allowed = []
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                allowed.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                pass  # an unparsable entry allows nothing: failing closed
        return cls(allowed=allowed)

    def reason(self, ip: IPAddress) -> str | None:
        """Why this policy refuses `ip`, or None when allowed."""
        if is_metadata(ip):
            return None if self._lists_address(ip) else refusal_reason(ip)
        if any(ip.version == net.version and ip in net for net in self.allowed):
            return None
        reason = refusal_reason(ip)
        if reason is None or self.allow_all_private:
            return None
        return reason

    def _lists_address(self, ip: IPAddress) -> bool:
        # A metadata endpoint is opened by naming it, never by a network around it (0.0.0.0/0, fd00::/8).
        same = {ip, _embedded_ipv4(ip)}
        return any(net.num_addresses == 1 and net.network_address in same for net in self.allowed)


@dataclass
class Guard:
    """Resolves a host and vets every address it resolves to; the resolver is injectable for tests."""

    policy: Policy = field(default_factory=Policy.from_env)
    resolver: Resolver = system_resolver

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses of `host` to connect to, as resolved; BlockedAddress if any of them is refused.

        Refusing the whole name when any address is bad (rather than picking a good one) keeps a name
        with mixed public and private records from reaching the private one on a retry.
        """
        host = host.strip("[]").rstrip(".")
        try:
            addresses = [(host, parse_address(host))]
        except ValueError:
            try:
                resolved = list(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:
                raise BlockedAddress(f"cannot resolve host {host!r}: {exc}") from exc
            if not resolved:
                raise BlockedAddress(f"host {host!r} has no addresses")
            addresses = [(str(a), parse_address(str(a))) for a in resolved]
        for _, ip in addresses:
            reason = self.policy.reason(ip)
            if reason is not None:
                shown = f"{host}," if addresses == [(host, ip)] else f"{host}, which resolves to {ip},"
                hint = "" if is_metadata(ip) else f" (set {ALLOW_ENV}=1 to allow private addresses)"
                raise BlockedAddress(f"refusing to connect to {shown} {reason}{hint}")
        return [address for address, _ in addresses]
