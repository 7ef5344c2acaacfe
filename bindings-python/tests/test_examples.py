"""examples/python: the visitor counter (sync) and the chat (asyncio), as processes."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import WAIT, Client

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def example():
    procs = []

    def start(name):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(EXAMPLES / name)],
                                env={**os.environ, "PORT": str(port)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert "http://127.0.0.1" in proc.stdout.readline()
        return proc, f"http://127.0.0.1:{port}"

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def connect_when_up(url, **kwargs):
    last = None
    for _ in range(100):
        try:
            return Client(url, **kwargs)
        except Exception as exc:  # the server may print its line just before listening
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"cannot connect to {url}: {last}")


@pytest.mark.parametrize("name", ["visitor_counter.py", "chat.py"])
def test_visits_and_clean_exit(example, name):
    proc, url = example(name)
    a = connect_when_up(url)
    assert a.expect("visits") == (1,)
    b = connect_when_up(url)
    assert a.expect("visits") == (2,) and b.expect("visits") == (2,)
    b.close()
    assert a.expect("visits") == (1,)
    proc.send_signal(signal.SIGINT)
    assert a.disconnects.get(timeout=WAIT)[0] == "/"
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    a.close()


def test_chat_lines_reach_everyone(example):
    proc, url = example("chat.py")
    a = connect_when_up(url)
    b = connect_when_up(url)
    a.sio.emit("toServer", {"nome": "ann", "msg": "hi"})
    assert a.expect("toClient") == ("ann:hi",)
    assert b.expect("toClient") == ("ann:hi",)
    a.close()
    b.close()
