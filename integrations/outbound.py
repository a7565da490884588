"""Outbound HTTP only to public addresses: webhooks must not turn Kundenpuls into a port scanner of its own network.

An admin enters a receiver's URL; Kundenpuls posts to it and shows what answered. Without a guard that would reach
the cloud metadata service (169.254.169.254), Redis on loopback or any host of the private network. So, where
`WEBHOOK_BLOCK_PRIVATE` is on (the default in production), every address a receiver's name resolves to must be a
public unicast address: loopback, private, shared (CGNAT), link-local, multicast, reserved and unspecified addresses
are refused, IPv4-mapped IPv6 included, and IP literals in any spelling (`0x7f000001`, `2130706433`) resolve
first. The check runs when the URL is saved (a clear form error) and again for the socket each delivery connects
(after DNS, so a name that later resolves to a private address, DNS rebinding, is refused before any byte is
sent). `WEBHOOK_PRIVATE_HOSTS` names host names that may resolve to private addresses (on-premise receivers).
"""

from __future__ import annotations

import ipaddress
import socket

import urllib3
from flask import current_app
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError


class AddressRefused(Exception):
    """The receiver's address is not a public one (and its host is not allowed to be private)."""


def _plain(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(address: str) -> bool:
    """A global unicast address: what a receiver on the internet has."""
    ip = _plain(address)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def _guarded(host: str | None) -> bool:
    config = current_app.config
    if not config["WEBHOOK_BLOCK_PRIVATE"]:
        return False
    allowed = {name.strip().lower() for name in (config["WEBHOOK_PRIVATE_HOSTS"] or "").split(",") if name.strip()}
    return (host or "").strip("[]").lower() not in allowed


def check_host(host: str, port: int) -> None:
    """Raise AddressRefused if `host` resolves to an address that is not public; a name that does not resolve now
    passes (it is checked again at each delivery)."""
    if not _guarded(host):
        return
    try:
        addresses = resolve(host.strip("[]"), port)
    except (socket.gaierror, UnicodeError):
        return
    for address in addresses:
        if not is_public(address):
            raise AddressRefused(f"{host} is not a public address")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to now (IP literals in any spelling included)."""
    return [sockaddr[0] for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _check_peer(connection: HTTPConnection, sock: socket.socket) -> None:
    if not _guarded(connection.host):
        return
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise NewConnectionError(connection, "refused: the receiver's address is not public")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:  # before the TLS handshake: nothing is sent to a refused address
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def guarded_pool_manager(**kwargs) -> urllib3.PoolManager:
    """A PoolManager whose every new connection checks the address it actually reached."""
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
    return manager
