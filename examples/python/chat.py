#!/usr/bin/env python3
"""Chat: what one visitor sends, every visitor sees as "name:message" (with the visitor
counter of visitor_counter.py), on asyncio.

    .venv/bin/python examples/python/chat.py     # then open http://127.0.0.1:3000 in two tabs

The page is examples/web/index.html; PORT changes the port.
"""

import asyncio
import os
from pathlib import Path

import rtio

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "tests/interop/node_modules/socket.io-client/dist/socket.io.js"

sio = rtio.AsyncServer(static_files=str(ROOT / "examples/web"),
                       client_bundle=str(BUNDLE) if BUNDLE.exists() else None)


@sio.event
async def connect(sid, environ, auth):
    await sio.emit("visits", sio.stats("/")["sockets"])


@sio.event
async def disconnect(sid, reason):
    await sio.emit("visits", sio.stats("/")["sockets"])


@sio.event
async def toServer(sid, data):  # noqa: N802 - the page's event name
    line = f"{data.get('nome') or 'anonymous'}:{data.get('msg', '')}"
    await sio.emit("toClient", line, to=sid)         # the sender...
    await sio.emit("toClient", line, skip_sid=sid)   # ...and everyone else


async def main():
    port = int(os.environ.get("PORT", "3000"))
    print(f"chat on http://127.0.0.1:{port}/")
    await sio.serve(host="127.0.0.1", port=port)  # until Ctrl-C / SIGTERM


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
