"""Port choice: a default port that is taken gives way to a free one; a port asked for by
name that is taken stops the demo with the option to change."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.demo.errors import DemoError
from app.demo.serving import PortRequest, bind_port


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_taken_default_port_falls_back_to_a_free_one(taken: int) -> None:
    with bind_port(PortRequest("service", "--port", None, default=taken)) as sock:
        assert sock.getsockname()[1] not in (taken, 0)


def test_free_default_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    with bind_port(PortRequest("service", "--port", None, default=free)) as sock:
        assert sock.getsockname()[1] == free


def test_taken_requested_port_names_the_option(taken: int) -> None:
    with pytest.raises(
        DemoError, match=rf"port {taken} for the Zoho simulator is in use.*--zoho-port"
    ):
        bind_port(PortRequest("Zoho simulator", "--zoho-port", taken, default=8002))
