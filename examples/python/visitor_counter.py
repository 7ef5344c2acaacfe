#!/usr/bin/env python3
"""Online visitor counter: every page shows how many visitors are connected right now.

    .venv/bin/python examples/python/visitor_counter.py     # then open http://127.0.0.1:3000

The page is examples/web/index.html; PORT changes the port.
"""

import os
import threading
from pathlib import Path

import rtio

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "tests/interop/node_modules/socket.io-client/dist/socket.io.js"

sio = rtio.Server(static_files=str(ROOT / "examples/web"),
                  client_bundle=str(BUNDLE) if BUNDLE.exists() else None)
visitors = 0
# Handlers of different clients run at the same time, on rtio's handler threads: the count
# and its emit go together under a lock, so that the counts go out in the order counted.
visitors_lock = threading.Lock()


@sio.event
def connect(sid, environ, auth):
    global visitors
    with visitors_lock:
        visitors += 1
        sio.emit("visits", visitors)  # to everyone, the newcomer included


@sio.event
def disconnect(sid, reason):
    global visitors
    with visitors_lock:
        visitors -= 1
        sio.emit("visits", visitors)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "3000"))
    print(f"visitor counter on http://127.0.0.1:{port}/")
    sio.run(host="127.0.0.1", port=port)
