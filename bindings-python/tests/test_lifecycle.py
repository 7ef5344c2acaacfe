"""Starting and stopping: ports, restarts without leaked threads, run() with Ctrl-C,
SIGTERM and shutdown() from a handler."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

import rtio

from conftest import WAIT, Client, os_threads, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


def handshake(port):
    r = requests.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                     timeout=WAIT)
    assert r.status_code == 200 and r.text.startswith("0{")
    return r


def test_start_reports_the_bound_port_and_options_reach_the_handshake():
    sio = rtio.Server(ping_interval=1.5, ping_timeout=0.75, max_http_buffer_size=4321)
    port = sio.start(port=0, host="127.0.0.1")
    try:
        assert port > 0 and sio.bound_port == port and sio.running
        body = handshake(port).text
        assert '"pingInterval":1500' in body and '"pingTimeout":750' in body
        assert '"maxPayload":4321' in body
    finally:
        sio.shutdown()
    assert not sio.running


def test_port_in_use_is_an_os_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        sio = rtio.Server()
        with pytest.raises(OSError):
            sio.start(port=s.getsockname()[1], host="127.0.0.1")


def test_start_stop_many_times_leaks_no_threads():
    sio = rtio.Server(worker_threads=2)
    connects = []
    sio.on("connect", lambda sid, environ, auth: connects.append(sid))
    sio.start(port=0, host="127.0.0.1")  # warm up (lazy runtime pieces, logging...)
    sio.shutdown()
    before = os_threads()
    for i in range(8):
        port = sio.start(port=0, host="127.0.0.1")
        handshake(port)
        assert os_threads() > before  # the runtime and dispatcher threads exist
        sio.shutdown()
        # shutdown() joined them
        assert os_threads() == before, f"round {i}: {os_threads()} threads, {before} before"
    # and a server object restarted this way still serves clients
    port = sio.start(port=0, host="127.0.0.1")
    c = Client(f"http://127.0.0.1:{port}")
    try:
        wait_until(lambda: c.sid in connects, "the connect handler")
    finally:
        c.close()
        sio.shutdown()
    wait_until(lambda: os_threads() <= before + 1, "client threads to end")  # python-engineio
    sio.shutdown()  # more than once is fine


def test_after_shutdown_emits_do_nothing_and_calls_raise():
    sio = rtio.Server()
    with pytest.raises(rtio.exceptions.StoppedError):
        sio.emit("x", 1)  # never started
    sio.start(port=0, host="127.0.0.1")
    sio.shutdown()
    # no client is left to reach: emits and room changes are no-ops...
    sio.emit("x", 1)
    sio.enter_room("sid", "room")
    assert sio.rooms("sid") == [] and sio.stats() == {"sockets": 0, "rooms": 0}
    # ...but waiting for an answer cannot succeed
    with pytest.raises(rtio.exceptions.StoppedError):
        sio.call("x", to="sid")


def test_shutdown_from_a_handler_ends_run():
    sio = rtio.Server()
    disconnected = []
    sio.on("stop", lambda sid: sio.shutdown())
    sio.on("disconnect", lambda sid, reason: disconnected.append(reason))
    port = sio.start(port=0, host="127.0.0.1")
    c = Client(f"http://127.0.0.1:{port}")
    done = threading.Event()

    def runner():
        sio.run()
        done.set()

    t = threading.Thread(target=runner, daemon=True)
    t.start()
    try:
        c.sio.emit("stop")
        assert done.wait(WAIT), "run() did not return after shutdown() in a handler"
        assert c.disconnects.get(timeout=WAIT)[0] == "/"
        assert disconnected == [rtio.reason.SERVER_DISCONNECT]  # handlers ran before run() returned
    finally:
        c.close()
        sio.shutdown()


SCRIPT = textwrap.dedent("""
    import sys
    import rtio
    sio = rtio.Server()
    sio.on('disconnect', lambda sid, reason: print('disconnect', reason, flush=True))
    port = sio.start(port=0, host='127.0.0.1')
    print(port, flush=True)
    sio.run()
    print('returned', flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_stops_cleanly_on_signal(sig):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        c = Client(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        proc.send_signal(sig)
        assert c.disconnects.get(timeout=WAIT)[0] == "/"
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert time.monotonic() - started < 3
        assert out.split("\n")[:2] == ["disconnect server disconnect", "returned"], out
        assert "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
