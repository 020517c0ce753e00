"""Where a webhook may be sent (decision 0093): only to public addresses, checked when the endpoint is registered and
again, after resolving its name, before every delivery (a name may resolve elsewhere later: DNS rebinding).

Refused: private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1), link-local (169.254/16, with the
instance metadata service at 169.254.169.254, and fe80::/10), shared (100.64/10), multicast, reserved and
unspecified addresses, and IPv4 addresses written inside IPv6 (``::ffff:10.0.0.1``). The local stack allows loopback
on purpose, so the demo can receive its own webhooks; nothing deployed does.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class EndpointRefusedError(ValueError):
    """A webhook URL Firstmile will not send to; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EndpointRefusedError(f"{host} does not resolve") from exc
    return sorted({str(answer[4][0]) for answer in answers})


def checked_addresses(url: str, *, allow_loopback: bool, resolver: Resolver = resolve) -> list[str]:
    """The addresses ``url`` may be delivered to, all of them allowed; ``EndpointRefusedError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointRefusedError("a webhook URL is https://host/path")
    if parts.username or parts.password:
        raise EndpointRefusedError("a webhook URL carries no user or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EndpointRefusedError("the port is not a number from 1 to 65535") from exc
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise EndpointRefusedError(f"{parts.hostname} does not resolve")
    for address in addresses:
        if not allowed(address, allow_loopback=allow_loopback):
            raise EndpointRefusedError(f"{parts.hostname} resolves to {address}, which is not a public address")
    if parts.scheme == "http" and not all(_loopback(a) for a in addresses):
        raise EndpointRefusedError("a webhook URL is https (plain http only to this machine, locally)")
    return addresses


def allowed(address: str, *, allow_loopback: bool) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
