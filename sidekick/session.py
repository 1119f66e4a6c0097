"""One JSON-RPC conversation with a peer, in both directions: the sidekick's with its host
(`sidekick.server`), and a Python host's with its sidekick child (`sidekick.client`).

Incoming requests are dispatched through jsonrpcserver (`sidekick.dispatch`). Cheap methods (plain
`def`) are answered inline, without a task switch; `async def` methods run as tasks so a long run never
blocks a ping. Requests sent to the peer (the sidekick's `host/callTool`) wait on futures keyed by their
ids, ours or the caller's. `notifications/cancelled` cancels the matching task and, as MCP specifies, no
answer is sent for it.

The session knows nothing of MCP's methods or of stdio: it takes a `send` callable and a method table.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Callable

from sidekick.dispatch import Method, MethodTable, RequestContext
from sidekick.errors import (
    ConnectionClosedError,
    InvalidRequest,
    LineTooLong,
    ParseError,
    RemoteError,
    RequestTimeoutError,
    to_rpc_error,
)
from sidekick.mcp_era import shutdown_error
from sidekick.protocol import CancelledParams, to_wire
from sidekick.codec import loads_strict

log = logging.getLogger("sidekick.session")

Send = Callable[[Any], None]
CANCELLED_NOTIFICATION = "notifications/cancelled"


def _id_key(request_id: Any) -> tuple[str, Any]:
    # 1 and "1" are different ids; True must not collide with 1.
    return (type(request_id).__name__, request_id)


def _valid_id(value: Any) -> bool:
    return (isinstance(value, (str, int)) and not isinstance(value, bool)) or value is None


def _expire(future: asyncio.Future[Any], reason: str) -> None:
    if not future.done():
        future.set_exception(RequestTimeoutError(reason))


def error_message(request_id: Any, error: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


async def _wait_all(tasks: set[asyncio.Task[Any]], timeout: float,
                    cut_short: asyncio.Future[Any] | None) -> set[asyncio.Task[Any]]:
    """Wait until every task is done, `timeout` passes or `cut_short` is done; the tasks still running."""
    everything = asyncio.ensure_future(asyncio.wait(tasks))
    await asyncio.wait({everything} | ({cut_short} if cut_short else set()), timeout=timeout,
                       return_when=asyncio.FIRST_COMPLETED)
    everything.cancel()  # stops the waiting only, not the tasks
    return {task for task in tasks if not task.done()}


class Session:
    """Serves one peer: dispatches what it sends, and sends it requests and notifications of our own."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.methods = MethodTable()
        self._inflight: dict[tuple[str, Any], asyncio.Task[Any]] = {}
        self._cancelled_by_peer: set[asyncio.Task[Any]] = set()
        self._shutting_down = False
        self._pending: dict[str | int, asyncio.Future[Any]] = {}
        self._next_id = itertools.count(1)
        self._background: set[asyncio.Task[Any]] = set()
        self._batches: set[asyncio.Task[Any]] = set()  # each sends its batch's answers once all are ready
        self.closed = False

    # -- registration -------------------------------------------------------------------------
    def add_method(self, method: Method) -> None:
        self.methods.add(method)

    # -- incoming -----------------------------------------------------------------------------
    def receive_line(self, line: bytes) -> None:
        """Handle one framed line from the peer. Never raises."""
        try:
            message = loads_strict(line)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            reason = ("invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else
                      "nested too deeply" if isinstance(exc, RecursionError) else f"invalid JSON: {exc}")
            self._send(error_message(None, ParseError(f"Parse error: {reason}").to_error()))
            return
        try:
            self.receive(message)
        except Exception as exc:  # a bug here must not end the read loop
            self._send(error_message(None, to_rpc_error(exc).to_error()))

    def receive_oversize(self, size: int, limit: int) -> None:
        error = LineTooLong(f"Message of {size} bytes exceeds the limit of {limit} bytes; it was dropped",
                            {"size": size, "limit": limit})
        self._send(error_message(None, error.to_error()))

    def receive(self, message: Any) -> None:
        """Handle one decoded JSON value: a request, a notification, a response, or a batch."""
        if isinstance(message, list):
            self._receive_batch(message)
            return
        answer = self._receive_one(message, send_answer=True)
        if answer is not None and not isinstance(answer, asyncio.Task):
            self._send(answer)

    def _receive_batch(self, batch: list[Any]) -> None:
        if not batch:
            self._send(error_message(None, InvalidRequest("Invalid Request: empty batch").to_error()))
            return
        answers = [self._receive_one(item) for item in batch]
        if not any(isinstance(a, asyncio.Task) for a in answers):
            ready = [a for a in answers if a is not None]
            if ready:
                self._send(ready)
            return
        finisher = asyncio.get_running_loop().create_task(self._finish_batch(answers))
        self._batches.add(finisher)
        finisher.add_done_callback(self._batches.discard)

    async def _finish_batch(self, answers: list[Any]) -> None:
        tasks = [a for a in answers if isinstance(a, asyncio.Task)]
        await asyncio.wait(tasks)
        ready = []
        for answer in answers:
            if isinstance(answer, asyncio.Task):
                answer = None if answer.cancelled() else answer.result()
            if answer is not None:
                ready.append(answer)
        if ready:
            self._send(ready)

    def _receive_one(self, message: Any, send_answer: bool = False) -> dict[str, Any] | asyncio.Task[Any] | None:
        """The answer to one message, or the task that will produce it (and send it, with `send_answer`)."""
        if not isinstance(message, dict):
            return error_message(None, InvalidRequest("Invalid Request: expected a JSON object").to_error())
        if "method" not in message and ("result" in message or "error" in message):
            self._receive_response(message)
            return None
        request_id = message.get("id")
        is_notification = "id" not in message
        problem = self._envelope_problem(message)
        if problem:
            if is_notification and isinstance(message.get("method"), str):
                log.warning("dropped an invalid notification: %s", problem)
                return None
            return error_message(request_id if _valid_id(request_id) else None,
                                 InvalidRequest(f"Invalid Request: {problem}").to_error())
        name = message["method"]
        params = message.get("params", {})
        if name == CANCELLED_NOTIFICATION and is_notification:
            self._cancel_from_peer(params)
            return None
        if self._inflight and not is_notification and _id_key(request_id) in self._inflight:
            return error_message(request_id, InvalidRequest(
                f"Invalid Request: id {request_id!r} is already in use by a request in flight").to_error())
        ctx = RequestContext(self, None if is_notification else request_id, name, params)
        method = self.methods.get(name)
        if method is None or not method.is_async:  # jsonrpcserver answers unknown methods with -32601
            return self.methods.dispatch_inline(message, ctx)
        if self._shutting_down:
            return None if is_notification else error_message(request_id, shutdown_error(params).to_error())
        key = _id_key(request_id)
        task = asyncio.get_running_loop().create_task(self._dispatch_async(message, ctx, send_answer))
        if not is_notification:
            self._inflight[key] = task
            task.add_done_callback(lambda t, k=key: self._forget(k, t))
        else:
            self._track(task)
        return None if is_notification else task

    @staticmethod
    def _envelope_problem(message: dict[str, Any]) -> str | None:
        if message.get("jsonrpc") != "2.0":
            return 'the "jsonrpc" member must be exactly "2.0"'
        if not isinstance(message.get("method"), str):
            return 'the "method" member must be a string'
        if "id" in message and not _valid_id(message["id"]):
            return 'the "id" member must be a string, an integer or null'
        params = message.get("params", {})
        if not isinstance(params, dict):
            return 'the "params" member must be an object (named parameters)' if isinstance(params, list) \
                else 'the "params" member must be a structured value'
        return None

    async def _dispatch_async(self, message: dict[str, Any], ctx: RequestContext,
                              send_answer: bool) -> dict[str, Any] | None:
        answer = await self._answer_async(message, ctx)
        if send_answer and answer is not None:
            self._send(answer)  # here, not in a done callback: that would cost one more loop iteration
        return answer

    async def _answer_async(self, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        try:
            return await self.methods.dispatch(message, ctx)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task in self._cancelled_by_peer or ctx.id is None:
                self._cancelled_by_peer.discard(task)
                raise
            # Cut short by shutdown, not by the peer: the peer still deserves an answer.
            return error_message(ctx.id, shutdown_error(ctx.params, "Server shut down before the request finished")
                                 .to_error())

    def _cancel_from_peer(self, params: Any) -> None:
        request_id = params.get("requestId") if isinstance(params, dict) else None
        task = self._inflight.get(_id_key(request_id)) if _valid_id(request_id) else None
        if task is None:
            log.debug("cancel for %r: no such request in flight", request_id)
            return
        log.info("request %r cancelled by the peer", request_id)
        self._cancelled_by_peer.add(task)
        task.cancel()

    def _forget(self, key: tuple[str, Any], task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        self._cancelled_by_peer.discard(task)
        if not task.cancelled() and task.exception() is not None:  # jsonrpcserver catches method errors
            log.error("a request task failed outside its method", exc_info=task.exception())

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep work that outlives its request (an MCP task's run) for shutdown: waited for, then cancelled."""
        self._track(task)

    # -- outgoing -----------------------------------------------------------------------------
    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification to the peer."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      timeout: float | None = None, request_id: str | int | None = None) -> Any:
        """Send a request to the peer and wait for its answer.

        Raises RemoteError (the peer answered with an error), RequestTimeoutError, or
        ConnectionClosedError (the peer went away). If the caller is cancelled, the peer is told.
        `request_id` defaults to our next own id; a caller-chosen id must not be pending already.
        """
        if self.closed:
            raise ConnectionClosedError(f"cannot send {method}: the connection is closed")
        if request_id is None:
            request_id = f"s-{next(self._next_id)}"
        elif not _valid_id(request_id):
            raise ValueError(f"request id {request_id!r} is neither a string nor an integer")
        elif request_id in self._pending:
            raise ValueError(f"request id {request_id!r} is already pending")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        # A timer that fails the future itself: asyncio.wait_for would put a waiter future, a callback and
        # one more loop iteration between the answer's arrival and this task's wake-up.
        timer = None if timeout is None else loop.call_later(
            timeout, _expire, future, f"{method} got no answer within {timeout:g} s")
        try:
            self._send(message)
            return await future
        except RequestTimeoutError:
            self.notify(CANCELLED_NOTIFICATION, to_wire(CancelledParams(request_id=request_id, reason="timed out")))
            raise
        except asyncio.CancelledError:
            if not self.closed:
                self.notify(CANCELLED_NOTIFICATION, to_wire(CancelledParams(request_id=request_id, reason="cancelled")))
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(request_id, None)

    def _receive_response(self, message: dict[str, Any]) -> None:
        response_id = message.get("id")
        future = self._pending.get(response_id) if _valid_id(response_id) else None
        if future is None or future.done():
            # Usually an answer that crossed our cancel or timeout on the wire: expected, not alarming.
            log.debug("dropped an answer for unknown or finished request id %r", message.get("id"))
            return
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            code = error.get("code") if isinstance(error.get("code"), int) else -32603
            future.set_exception(RemoteError(code, str(error.get("message", "unknown error")), error.get("data")))
        else:
            future.set_result(message["result"])

    # -- shutdown -----------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def shutdown(self, grace: float, input_closed: bool = True,
                       cut_short: asyncio.Future[Any] | None = None) -> None:
        """Let work in flight finish for `grace` seconds (or until `cut_short` is done), cancel the rest,
        and fail pending host requests.

        With the input closed the host can no longer answer us, so its pending requests fail at once.
        """
        self._shutting_down = True
        if input_closed:
            self.close()
        work = set(self._inflight.values()) | self._background | self._batches
        if work:
            late = await _wait_all(work, grace, cut_short)
            late -= self._batches  # never cancelled: each answers once its requests have answered -32002
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        self.close()
        if self._background or self._batches:
            await asyncio.wait(self._background | self._batches, timeout=1.0)

    def close(self, error: ConnectionClosedError | None = None) -> None:
        """The peer is gone: reject every request we are waiting on with `error`, or one naming the host."""
        self.closed = True
        for request_id, future in list(self._pending.items()):
            if not future.done():
                future.set_exception(error or ConnectionClosedError(f"the host closed the connection ({request_id})"))
        self._pending.clear()
