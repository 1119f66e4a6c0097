"""The peer HTTP service: FastAPI under uvicorn on loopback, the design the sidekick replaced (run by
bench/protocol.py with bench/.venv-peers' Python). Prints its port once it listens."""

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from sidekick.tools.calculate import evaluate, format_value  # noqa: E402

app = FastAPI()


class Expression(BaseModel):
    expression: str


# `async def`: FastAPI runs a plain `def` endpoint in a worker thread; these are its quickest path.
@app.post("/ping")
async def ping() -> dict:
    return {}


@app.post("/calculate")
async def calculate(body: Expression) -> dict:
    return {"text": format_value(evaluate(body.expression))}


if __name__ == "__main__":
    # IPPROTO_TCP as getaddrinfo gives it: asyncio sets TCP_NODELAY only on such sockets (proto 0 would
    # leave Nagle on, and each answer's body would wait ~40 ms for a delayed ACK).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    # Idle between rounds while the other targets are measured: keep the client's connection open.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=3600)
    uvicorn.Server(config).run(sockets=[listener])
