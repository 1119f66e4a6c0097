"""What a hostile model or web page cannot do: reach private networks, run Python, blow up memory
with a compressed body, read secrets back, or call host tools it was not offered."""

from __future__ import annotations

import builtins
import gzip
import ipaddress
import json
import sys
import threading
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from sidekick.tools.base import ToolFailure
from sidekick.tools.calculate import FUNCTIONS, evaluate
from sidekick.tools.fetch import FetchArgs, FetchUrlTool
from sidekick.tools.netguard import BlockedAddress, Guard, Policy
from tests.reliability.support import drain_messages, ping_barrier, rss_kb, strict_process
from tests.support.process import SidekickProcess


# -- a local web server -----------------------------------------------------------------------------
class Site:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.seen.append(self.path)
                status, headers, body = site.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"no"))
                self.send_response(status)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    thread = threading.Thread(target=site.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield site
    site.httpd.shutdown()
    site.httpd.server_close()
    thread.join(10)


def call_tool(process: SidekickProcess, request_id: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return process.request(request_id, "tools/call", {"name": name, "arguments": arguments})["result"]


# -- SSRF: tool level, with the injectable resolver ---------------------------------------------------
PRIVATE_V4 = st.one_of(
    st.ip_addresses(network="127.0.0.0/8"), st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="172.16.0.0/12"), st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="169.254.0.0/16"), st.ip_addresses(network="100.64.0.0/10"),
    st.ip_addresses(network="0.0.0.0/8"), st.ip_addresses(network="224.0.0.0/4"),
    st.ip_addresses(network="240.0.0.0/4"),
)
PRIVATE_V6 = st.one_of(
    st.just(ipaddress.IPv6Address("::1")), st.just(ipaddress.IPv6Address("::")),
    st.ip_addresses(network="fc00::/7"), st.ip_addresses(network="fe80::/10"), st.ip_addresses(network="ff00::/8"),
)


def wrapped(v4: ipaddress.IPv4Address) -> list[str]:
    """The ways IPv6 can carry an IPv4 address: mapped, NAT64, 6to4."""
    n = int(v4)
    return [f"::ffff:{v4}", str(ipaddress.IPv6Address((0xFFFF << 32) | n)),
            str(ipaddress.IPv6Address((0x64FF9B << 96) | n)), str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80)))]


@settings(max_examples=300, deadline=None)
@given(v4=PRIVATE_V4, v6=PRIVATE_V6, public=st.sampled_from(["93.184.216.34", "1.1.1.1", "2606:4700::1111"]),
       form=st.integers(0, 3))
def test_no_private_address_passes_the_guard_in_any_spelling(v4: ipaddress.IPv4Address, v6: ipaddress.IPv6Address,
                                                             public: str, form: int) -> None:
    guard = Guard(Policy(), lambda host, port: {"v4.test": [str(v4)], "v6.test": [str(v6)],
                                                "mapped.test": [wrapped(v4)[form]],
                                                "mixed.test": [public, str(v4)]}[host])
    for literal in (str(v4), str(v6), wrapped(v4)[form]):
        with pytest.raises(BlockedAddress):
            guard.vet(literal, 80)
    for name in ("v4.test", "v6.test", "mapped.test", "mixed.test"):
        with pytest.raises(BlockedAddress):
            guard.vet(name, 80)
    assert guard.vet(public, 80) == [public]


@dataclass
class FirstHopOnly(Policy):
    """Allows the first address it is asked about (the 'public' first hop), then the default policy."""

    used: bool = False

    def reason(self, ip: Any) -> str | None:
        if not self.used:
            self.used = True
            return None
        return super().reason(ip)


@pytest.mark.parametrize("location, resolves_to", [
    ("http://internal.example/admin", ["10.1.2.3"]),
    ("http://metadata.example/latest/meta-data/", ["169.254.169.254"]),
    ("http://v6.example/", ["::1"]),
    ("http://mapped.example/", ["::ffff:127.0.0.1"]),
    ("http://nat64.example/", ["64:ff9b::a00:1"]),
    ("http://half.example/", ["93.184.216.34", "192.168.1.1"]),
    ("http://[::ffff:7f00:1]:{port}/secret", None),
    ("http://[::1]:{port}/secret", None),
    ("http://127.0.0.1:{port}/secret", None),
    ("http://localhost:{port}/secret", None),
    ("http://2130706433:{port}/secret", None),
])
def test_a_public_looking_page_cannot_redirect_into_the_private_network(site: Site, location: str,
                                                                        resolves_to: list[str] | None) -> None:
    """public.example stands for the web (the test resolves it to the local server and allows that one
    connection); every later hop is resolved and vetted again, with private addresses refused."""
    location = location.format(port=site.port)
    site.routes["/start"] = (302, {"Location": location}, b"")
    site.routes["/secret"] = (200, {"Content-Type": "text/plain"}, b"internal secret")
    names = {"public.example": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"], "2130706433": ["127.0.0.1"]}
    if resolves_to:
        names[location.split("/")[2]] = resolves_to
    tool = FetchUrlTool(resolver=lambda host, port: names[host], policy=FirstHopOnly())
    with pytest.raises(ToolFailure, match="refusing to connect"):
        tool.run(FetchArgs(url=site.url("/start", host="public.example")))
    assert site.seen == ["/start"]


# -- SSRF: through tools/call in a subprocess, SIDEKICK_ALLOW_PRIVATE_URLS unset ---------------------
@pytest.fixture(scope="module")
def strict() -> Iterator[SidekickProcess]:
    process = strict_process()
    process.initialize()
    yield process
    assert process.close() == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost",
                                  "127.1", "2130706433", "0x7f000001", "0.0.0.0", "[::]", "LOCALHOST.",
                                  "[64:ff9b::7f00:1]", "[2002:7f00:1::]"])
def test_fetch_url_refuses_loopback_in_every_spelling(strict: SidekickProcess, site: Site, host: str) -> None:
    site.routes["/secret"] = (200, {"Content-Type": "text/plain"}, b"internal secret")
    result = call_tool(strict, f"ssrf-{host}", "fetch_url", {"url": f"http://{host}:{site.port}/secret"})
    assert result["isError"] is True, result
    text = result["content"][0]["text"]
    assert "refusing to connect" in text or "cannot resolve" in text, text
    assert "internal secret" not in text and site.seen == []


def test_an_allow_list_opens_the_first_hop_only(site: Site) -> None:
    """With SIDEKICK_ALLOW_PRIVATE_URLS=127.0.0.1 the local page is readable, but its redirects into
    other private or metadata addresses are still refused after resolution."""
    site.routes["/ok"] = (200, {"Content-Type": "text/plain"}, b"public-ish page")
    targets = [f"http://[::1]:{site.port}/x", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
               f"http://[::ffff:10.0.0.1]:{site.port}/"]
    for i, target in enumerate(targets):
        site.routes[f"/r{i}"] = (302, {"Location": target}, b"")
    process = strict_process(env={"SIDEKICK_ALLOW_PRIVATE_URLS": "127.0.0.1"})
    try:
        process.initialize()
        assert call_tool(process, "ok", "fetch_url", {"url": site.url("/ok")})["isError"] is False
        for i, target in enumerate(targets):
            result = call_tool(process, i, "fetch_url", {"url": site.url(f"/r{i}")})
            assert result["isError"] is True and "refusing to connect" in result["content"][0]["text"], result
        assert site.seen == ["/ok", *[f"/r{i}" for i in range(len(targets))]]
    finally:
        assert process.close() == 0


# -- fetch caps on compressed bodies ----------------------------------------------------------------
def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"A" * size, compresslevel=9)


@pytest.mark.parametrize("encoding, body", [
    ("gzip", gzip_bomb(200_000_000)),
    ("deflate", zlib.compress(b"B" * 200_000_000, 9)),
    ("gzip, gzip", gzip.compress(gzip_bomb(200_000_000), compresslevel=9)),
])
def test_a_compression_bomb_is_cut_at_the_byte_cap(site: Site, encoding: str, body: bytes) -> None:
    site.routes["/bomb"] = (200, {"Content-Type": "text/plain", "Content-Encoding": encoding}, body)
    process = strict_process(env={"SIDEKICK_ALLOW_PRIVATE_URLS": "127.0.0.1"})
    try:
        process.initialize()
        call_tool(process, "warm", "calculate", {"expression": "1+1"})
        call_tool(process, "warm2", "fetch_url", {"url": site.url("/missing")})  # imports requests et al.
        before = rss_kb(process.proc.pid)
        result = call_tool(process, 1, "fetch_url", {"url": site.url("/bomb"), "maxChars": 200_000})
        grown_mb = (rss_kb(process.proc.pid) - before) / 1024
        assert result["isError"] is False, result
        assert result["structuredContent"]["truncated"] is True
        assert len(result["structuredContent"]["text"]) == 200_000
        assert grown_mb < 64, f"RSS grew {grown_mb:.0f} MB on a 200 MB bomb"
    finally:
        assert process.close() == 0


# -- the calculator never runs Python ---------------------------------------------------------------
FRAGMENTS = ["__import__('os').system('true')", "().__class__.__bases__[0]", "lambda: 1", "[x for x in (1,)]",
             "import os", "exec('1')", "eval('1')", "open('/etc/passwd')", "globals()", "os.system", "x.y",
             "sqrt", "(", ")", "**", "^", "1e308", "9" * 40, "pi", "e", "where(1 > 2, 3, 4)", "'a'", "b'x'",
             "{1: 2}", "f'{1}'", "...", "not", "and", "or", "~", ",", ";", "\n", "\\", "#", "@", ":=", "_", "__"]
EXPRESSIONS = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789+-*/%^().,<>=!~&| eE_abcdefghijklmnopqrstuvwxyz'\"[]{}:;@#$\\", max_size=60),
    st.lists(st.sampled_from(FRAGMENTS) | st.integers(-99, 99).map(str), max_size=8).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS) | st.integers(0, 9).map(str), max_size=12).map("".join),
)
ALLOWED_NAMES = set(FUNCTIONS)


@contextmanager
def python_forbidden(record: list[str]) -> Iterator[None]:
    """During a calculation: exec never; eval/compile only of code naming nothing but numexpr's functions
    (numexpr compiles its own, already vetted, expression text); no module imported for the first time."""
    real_eval, real_exec, real_compile, real_import = builtins.eval, builtins.exec, builtins.compile, builtins.__import__
    loaded = set(sys.modules)

    def check_code(code: Any, what: str) -> None:
        names = set(getattr(code, "co_names", ())) - ALLOWED_NAMES
        if names:
            record.append(f"{what} of code naming {sorted(names)}")

    def guarded_eval(source: Any, *args: Any, **kwargs: Any) -> Any:
        check_code(source if not isinstance(source, str) else real_compile(source, "<e>", "eval"), "eval")
        return real_eval(source, *args, **kwargs)

    def guarded_exec(*args: Any, **kwargs: Any) -> Any:
        record.append("exec")
        raise AssertionError("exec during a calculation")

    def guarded_compile(source: Any, filename: Any, mode: Any, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
        code = real_compile(source, filename, mode, flags, *args, **kwargs)
        if not flags & 0x400:  # ast.PyCF_ONLY_AST: parsing only, nothing can run
            check_code(code, "compile")
        return code

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name not in loaded and name.split(".")[0] not in loaded:
            record.append(f"import {name}")
        return real_import(name, *args, **kwargs)

    builtins.eval, builtins.exec, builtins.compile, builtins.__import__ = (guarded_eval, guarded_exec,
                                                                           guarded_compile, guarded_import)
    try:
        yield
    finally:
        builtins.eval, builtins.exec, builtins.compile, builtins.__import__ = (real_eval, real_exec,
                                                                               real_compile, real_import)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_the_calculator_never_executes_python(expression: str) -> None:
    evaluate("sqrt(2.5) * where(1 > 2, 3, 4) + 2**0.5")  # numexpr and numpy loaded before the watch starts
    record: list[str] = []
    with python_forbidden(record):
        try:
            value = evaluate(expression)
        except ToolFailure:
            value = None
    assert record == [], (expression, record)
    assert value is None or type(value) in (int, float, bool)


# -- secrets never leave ----------------------------------------------------------------------------
PARAM_KEY = "sk-CANARY-param-7f3a9c1e5b2d4680"
ENV_KEY = "sk-CANARY-env-0b1c2d3e4f5a6978"


def test_api_keys_never_appear_in_logs_errors_or_results() -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    plan: list[dict[str, Any]] = []
    out: list[Any] = []
    with ScriptedOpenAIServer(lambda body: plan.pop(0) if len(plan) > 1 else plan[0]) as server:
        process = strict_process("--log-level", "debug",
                                 env={"SIDEKICK_API_KEY": ENV_KEY, "SIDEKICK_BASE_URL": server.base_url})
        try:
            process.initialize()
            process.request("lvl", "logging/setLevel", {"level": "debug"})  # logs also go to stdout now
            # A server echoes back the key it was sent ({key}), the way OpenAI's 401 does.
            faults = [
                [{"status": 401, "error": "Incorrect API key provided: {key}"}],
                [{"status": 500, "error": "boom for Bearer {key}", "headers": {"Retry-After": "0"}}],
                [{"status": 400, "error": "bad request {key}"}],
                [{"raw": "not json {key}"}],
                [{"hang": 30}],
                [{"close": True}],
                [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+"}}]}, {"content": "fine"}],
            ]
            n = 0
            for script in faults:
                for key in (PARAM_KEY, ENV_KEY):
                    plan[:] = json.loads(json.dumps(script).replace("{key}", key))
                    model: dict[str, Any] = {"maxRetries": 1, "requestTimeoutMs": 300}
                    if key == PARAM_KEY:  # else the environment's endpoint and key
                        model.update(baseUrl=server.base_url, apiKey=key)
                    n += 1
                    process.send({"jsonrpc": "2.0", "id": n, "method": "sidekick/run",
                                  "params": {"task": "go", "tools": ["calculate"], "model": model}})
                    out += drain_messages(process, lambda m, n=n: m.get("id") == n)
            n += 1
            process.send({"jsonrpc": "2.0", "id": n, "method": "sidekick/run", "params": {
                "task": "go", "model": {"baseUrl": f"http://127.0.0.1:{dead_port}/v1", "apiKey": PARAM_KEY,
                                        "maxRetries": 0}}})
            out += drain_messages(process, lambda m: m.get("id") == n)
            out += ping_barrier(process, "end")
        finally:
            assert process.close() == 0
    stdout = json.dumps(out)
    stderr = b"".join(process.stderr_lines).decode(errors="replace")
    assert "DEBUG" in stderr and "notifications/message" in stdout  # the logs really were on
    kinds = {m["result"]["error"]["kind"] for m in out if isinstance(m, dict) and "result" in m
             and isinstance(m["result"], dict) and m["result"].get("error")}
    assert {"auth", "server", "bad_request", "bad_response", "timeout", "connection"} <= kinds, kinds
    for secret in (PARAM_KEY, ENV_KEY, PARAM_KEY[-12:], ENV_KEY[-12:]):
        assert secret not in stdout, [m for m in out if secret in json.dumps(m)][:2]
        assert secret not in stderr, f"{secret} on stderr"
    assert "authorization" not in stderr.lower() and "bearer sk-" not in stdout.lower() + stderr.lower()


# -- host tools: only those offered -----------------------------------------------------------------
OFFERED = {"name": "SEND_MESSAGE", "description": "Send a message",
           "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


@pytest.mark.parametrize("reply", [
    {"tool_calls": [{"name": "DELETE_EVERYTHING", "arguments": {}}]},
    {"tool_calls": [{"name": "send_message", "arguments": {"text": "case differs"}}]},
    {"tool_calls": [{"name": "fetch_url", "arguments": {"url": "http://example.com/"}}]},  # builtin not chosen
    {"content": '<tool_call>{"name": "DELETE_EVERYTHING", "arguments": {}}</tool_call>'},
])
def test_the_model_reaches_only_the_host_tools_it_was_offered(reply: dict[str, Any]) -> None:
    process = strict_process()
    try:
        process.initialize()
        with ScriptedOpenAIServer([reply, {"content": "gave up"}]) as server:
            process.send({"jsonrpc": "2.0", "id": 1, "method": "sidekick/run", "params": {
                "task": "do harm", "tools": ["calculate"], "hostTools": [OFFERED],
                "model": {"baseUrl": server.base_url, "model": "m", "apiKey": "sk-x"}}})
            seen = drain_messages(process, lambda m: m.get("id") == 1)
        assert not any(m.get("method") == "host/callTool" for m in seen), seen
        result = seen[-1]["result"]
        if "tool_calls" in reply:
            assert result["steps"][0]["ok"] is False and result["steps"][0]["source"] == "unknown"
            tool_message = [m for m in result["messages"] if m["role"] == "tool"][0]["content"]
            assert "Unknown tool" in tool_message and "SEND_MESSAGE" in tool_message
        else:  # text naming no offered tool is never a call: the model is told so once and answers
            assert result["steps"] == [] and server.calls == 2 and result["text"] == "gave up"
            correction = server.requests[1]["messages"][-1]["content"]  # it leaves the transcript once answered
            assert "no tool named 'DELETE_EVERYTHING'" in correction and "SEND_MESSAGE" in correction
    finally:
        assert process.close() == 0
