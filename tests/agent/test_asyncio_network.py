"""The asyncio network backend under the `openai` client: requests, errors, keep-alive, cancellation and TLS,
through the real client against servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import re
import socket
import ssl
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Awaitable, Callable

import pytest

from sidekick.agent import asyncio_network, response_cap
from sidekick.agent.model_settings import resolve_settings
from sidekick.agent.openai_model import OpenAIChatModel, map_openai_error
from sidekick.run_protocol import ModelSettings
from sidekick.testing.scripted_server import ScriptedOpenAIServer, completion
from tests.agent.endpoints import fresh_adapter  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_adapter")

ASK = [{"role": "user", "content": "x"}]
BODY = {"model": "m", "messages": ASK}
DEADLINE_S = 10.0


async def until(condition: Callable[[], Any], what: str) -> None:
    """Wait until `condition()` holds, failing after DEADLINE_S."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.005)


Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


class RawServer:
    """An HTTP/1.1 server in the test's event loop; `answer` writes each response and says whether to keep the
    connection open for another request."""

    def __init__(self, answer: Answer, ssl_context: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests = 0
        self.alpn: list[str | None] = []
        self.received = asyncio.Event()
        self.client_left = asyncio.Event()  # a connection ended by the client

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        ssl_object = writer.get_extra_info("ssl_object")
        self.alpn.append(ssl_object.selected_alpn_protocol() if ssl_object else None)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests += 1
                self.received.set()
                if not await self.answer(reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            self.client_left.set()
        finally:
            writer.close()


def response(payload: Any, *headers: str) -> bytes:
    data = json.dumps(payload).encode()
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(data)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(completion({"content": "ok"}, "m", 0)))
    await writer.drain()
    return True


async def answer_ok_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    await answer_ok(reader, writer)
    return False  # with no "Connection: close": the client learns of it only from the socket


async def answer_never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    if await reader.read(1) == b"":  # held until the client goes
        raise ConnectionResetError
    return False


def client_for(base_url: str, verify: Any = None) -> Any:
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    if verify is None:
        http_client = response_cap.http_client()
    else:
        http_client = DefaultAsyncHttpxClient(verify=verify)
        assert asyncio_network.install(http_client)
    return AsyncOpenAI(base_url=base_url, api_key="sk-k", max_retries=0, http_client=http_client)


def pool_of(client: Any) -> Any:
    return client._client._transport._pool


def core_of(client: Any) -> Any:
    """The HTTP core library under the client (httpcore, or httpcore2 under newer `openai` releases)."""
    return sys.modules[type(pool_of(client)).__module__.split(".")[0]]


def chain(exc: BaseException | None) -> list[BaseException]:
    seen = []
    while exc is not None and len(seen) < 8:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


async def post(client: Any, timeout: float = DEADLINE_S) -> Any:
    return await client.post("/chat/completions", body=BODY, cast_to=object, options={"timeout": timeout})


def kind_of(exc: Exception, base_url: str) -> str:
    return map_openai_error(exc, resolve_settings(ModelSettings(base_url=base_url, model="m", api_key="k"))).kind


def test_the_adapter_s_clients_run_on_the_asyncio_backend() -> None:
    backend = pool_of(client_for("http://127.0.0.1:9/v1"))._network_backend
    assert isinstance(backend, asyncio_network.AsyncioBackend)


def test_a_pool_it_was_not_written_for_keeps_its_own_backend() -> None:
    from openai import DefaultAsyncHttpxClient

    proxied = DefaultAsyncHttpxClient(proxy="http://127.0.0.1:9")
    (tunnel,) = [transport for transport in proxied._mounts.values() if transport is not None]
    default = tunnel._pool._network_backend
    assert not asyncio_network.install(SimpleNamespace(_transport=tunnel)) and tunnel._pool._network_backend is default
    assert not asyncio_network.install(object())


@pytest.mark.parametrize("stream", [False, True])
async def test_completions_plain_and_streamed_through_the_real_client(stream: bool) -> None:
    with ScriptedOpenAIServer([{"content": "hello", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]}] * 2) \
            as server:
        model = OpenAIChatModel(resolve_settings(ModelSettings(base_url=server.base_url, model="m", api_key="k",
                                                               stream=stream, max_retries=0)))
        for _ in range(2):
            turn = await model.complete(ASK, [], timeout_s=DEADLINE_S)
            assert turn.content == "hello" and turn.tool_calls[0].arguments == '{"a": 1}'


async def test_a_read_timeout_is_the_timeout_kind_and_drops_the_connection() -> None:
    async with RawServer(answer_never) as server:
        client = client_for(server.base_url)
        with pytest.raises(Exception) as caught:
            await post(client, timeout=0.2)
        assert kind_of(caught.value, server.base_url) == "timeout"
        assert any(isinstance(e, core_of(client).ReadTimeout) for e in chain(caught.value))
        await asyncio.wait_for(server.client_left.wait(), DEADLINE_S)
        await client.close()


@pytest.mark.parametrize("reset", [False, True])
async def test_a_server_that_closes_mid_response_is_a_connection_error(reset: bool) -> None:
    async def answer_half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        whole = response(completion({"content": "ok" * 100}, "m", 0))
        writer.write(whole[: len(whole) // 2])
        await writer.drain()
        if reset:  # a close with data unsent and no linger: an RST, so the client's read fails
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        return False

    async with RawServer(answer_half) as server:
        client = client_for(server.base_url)
        with pytest.raises(Exception) as caught:
            await post(client)
        assert kind_of(caught.value, server.base_url) == "connection"
        assert pool_of(client).connections == []
        await client.close()


async def test_connections_are_kept_alive_and_one_the_server_closed_is_not_reused() -> None:
    async with RawServer(answer_ok) as server:
        client = client_for(server.base_url)
        for _ in range(3):
            assert (await post(client))["choices"][0]["message"]["content"] == "ok"
        assert (server.connections, server.requests) == (1, 3)
        await client.close()
    async with RawServer(answer_ok_then_close) as server:
        client = client_for(server.base_url)
        await post(client)
        pool = pool_of(client)
        await until(lambda: not pool.connections or pool.connections[0].has_expired(),
                    "the client to see the server's close")
        assert (await post(client))["choices"][0]["message"]["content"] == "ok"
        assert (server.connections, server.requests) == (2, 2)
        await client.close()


async def test_a_request_cancelled_midway_closes_its_connection() -> None:
    async with RawServer(answer_never) as server:
        client = client_for(server.base_url)
        request = asyncio.ensure_future(post(client))
        await asyncio.wait_for(server.received.wait(), DEADLINE_S)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await asyncio.wait_for(server.client_left.wait(), DEADLINE_S)
        assert pool_of(client).connections == []
        await client.close()


async def test_a_stream_buffers_and_reads_in_pieces_no_larger_than_asked() -> None:
    core = core_of(client_for("http://127.0.0.1:9/v1"))
    big = b"x" * (asyncio_network.READ_BUFFER_LIMIT * 3)

    async def answer_big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(big)
        await writer.drain()
        return False

    async with RawServer(answer_big) as server:
        backend = asyncio_network.AsyncioBackend(asyncio_network._Errors.of(core))
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        stream = await backend.connect_tcp("127.0.0.1", port, timeout=DEADLINE_S)
        assert stream.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert stream.get_extra_info("server_addr")[1] == port and not stream.get_extra_info("is_readable")
        await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=DEADLINE_S)
        got = bytearray()
        while piece := await stream.read(64 * 1024, timeout=DEADLINE_S):
            assert len(piece) <= 64 * 1024
            got += piece
        assert got == big and stream.get_extra_info("is_readable")
        with pytest.raises(core.WriteError):
            await stream.write(b"more", timeout=DEADLINE_S)
        await stream.aclose()
        with pytest.raises(core.ReadError):
            await stream.read(1)


async def test_connecting_to_a_closed_port_is_a_connection_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    probe.close()
    client = client_for(base_url)
    with pytest.raises(Exception) as caught:
        await post(client)
    assert kind_of(caught.value, base_url) == "connection"
    await client.close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (cert file, key file)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sidekick test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.parametrize("trusted", [True, False])
async def test_https_with_a_self_signed_certificate_works_only_when_trusted(tmp_path: Path, trusted: bool) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    async with RawServer(answer_ok, server_context) as server:
        if trusted:
            client = client_for(server.base_url, verify=ssl.create_default_context(cafile=str(cert_file)))
            for _ in range(2):
                assert (await post(client))["choices"][0]["message"]["content"] == "ok"
            assert server.alpn == ["http/1.1"] and server.requests == 2
            stream = pool_of(client).connections[0]._connection._network_stream
            assert stream.get_extra_info("ssl_object").version().startswith("TLS")
        else:
            client = client_for(server.base_url)  # the library's own CA bundle, which does not hold it
            with pytest.raises(Exception) as caught:
                await post(client)
            assert kind_of(caught.value, server.base_url) == "connection"
            assert any(isinstance(e, ssl.SSLCertVerificationError) for e in chain(caught.value))
        await client.close()
