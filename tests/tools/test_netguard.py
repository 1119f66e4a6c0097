"""The SSRF guard, with an injected resolver: no test here touches the network."""

from __future__ import annotations

import ipaddress

import pytest

from sidekick.tools.netguard import BlockedAddress, Guard, Policy, refusal_reason

NAMES = {
    "ten.test": ["10.1.2.3"],
    "loop.test": ["127.0.0.1"],
    "loop6.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "mapped-private.test": ["::ffff:192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "metadata6.test": ["fd00:ec2::254"],
    "linklocal.test": ["169.254.10.10"],
    "cgnat.test": ["100.64.0.1"],
    "multicast.test": ["224.0.0.251"],
    "unspecified.test": ["0.0.0.0"],
    "reserved.test": ["240.0.0.1"],
    "sixtofour.test": ["2002:7f00:1::1"],
    "nat64.test": ["64:ff9b::a00:1"],
    "scoped.test": ["fe80::1%eth0"],
    "public.test": ["93.184.216.34"],
    "public6.test": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],
}


def resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    return NAMES[host]


def guard(policy: Policy | None = None) -> Guard:
    return Guard(policy or Policy(), resolver)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("ten.test", "a private address"),
        ("loop.test", "a loopback address"),
        ("loop6.test", "a loopback address"),
        ("mapped.test", "a loopback address inside an IPv6 address"),
        ("mapped-private.test", "a private address inside an IPv6 address"),
        ("metadata.test", "a cloud metadata address"),
        ("metadata6.test", "a cloud metadata address"),
        ("linklocal.test", "a link-local address"),
        ("cgnat.test", "a non-public address"),
        ("multicast.test", "a multicast address"),
        ("unspecified.test", "an unspecified address"),
        ("reserved.test", "address"),
        ("sixtofour.test", "a loopback address inside an IPv6 address"),
        ("nat64.test", "a private address inside an IPv6 address"),
        ("scoped.test", "a link-local address"),
        ("mixed.test", "which resolves to 10.0.0.1, a private address"),
    ],
)
def test_names_resolving_to_non_public_addresses_are_refused(host: str, reason: str) -> None:
    with pytest.raises(BlockedAddress) as info:
        guard().vet(host, 80)
    assert reason in str(info.value)
    assert host in str(info.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::ffff:127.0.0.1", "169.254.169.254", "0.0.0.0"])
def test_address_literals_are_vetted_without_resolving(host: str) -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("an address literal must not be resolved")

    with pytest.raises(BlockedAddress):
        Guard(Policy(), no_dns).vet(host, 80)


def test_public_addresses_pass() -> None:
    assert guard().vet("public.test", 443) == ["93.184.216.34"]
    assert guard().vet("public6.test", 443) == ["2606:2800:220:1:248:1893:25c8:1946"]
    assert guard().vet("93.184.216.34", 80) == ["93.184.216.34"]
    assert guard(Policy(allow_all_private=True)).vet("scoped.test", 80) == ["fe80::1%eth0"]
    assert refusal_reason(ipaddress.ip_address("1.1.1.1")) is None


def test_unresolvable_names_are_reported() -> None:
    with pytest.raises(BlockedAddress, match="cannot resolve host 'nowhere.test'"):
        guard().vet("nowhere.test", 80)
    with pytest.raises(BlockedAddress, match="no addresses"):
        Guard(Policy(), lambda host, port: []).vet("empty.test", 80)


def test_allow_all_private_still_refuses_metadata() -> None:
    policy = Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": "1"})
    assert guard(policy).vet("ten.test", 80) == ["10.1.2.3"]
    assert guard(policy).vet("mapped.test", 80) == ["::ffff:127.0.0.1"]
    for host in ("metadata.test", "metadata6.test", "::ffff:169.254.169.254"):
        with pytest.raises(BlockedAddress, match="metadata") as info:
            guard(policy).vet(host, 80)
        assert "SIDEKICK_ALLOW_PRIVATE_URLS" not in str(info.value)


def test_an_allow_list_opens_only_what_it_names() -> None:
    policy = Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": "127.0.0.1, 10.1.0.0/16, 169.254.169.254"})
    assert guard(policy).vet("loop.test", 80) == ["127.0.0.1"]
    assert guard(policy).vet("ten.test", 80) == ["10.1.2.3"]
    assert guard(policy).vet("metadata.test", 80) == ["169.254.169.254"]  # named explicitly
    with pytest.raises(BlockedAddress):
        guard(policy).vet("loop6.test", 80)
    with pytest.raises(BlockedAddress):
        guard(policy).vet("cgnat.test", 80)


@pytest.mark.parametrize("value", ["", "0", "no", "not-an-address", "10.0.0.0/33"])
def test_other_values_allow_nothing(value: str) -> None:
    with pytest.raises(BlockedAddress):
        guard(Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": value})).vet("ten.test", 80)
