"""bench/python_layer.py, the Python hosts' share of an echo without sockets: it still drives
the message path of both servers to the ack (it uses their private methods)."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "python_layer.py"


def test_measures_both_servers_to_the_ack():
    out = subprocess.run([sys.executable, str(SCRIPT), "--events", "400", "--runs", "1"],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["rtio.Server", "rtio.AsyncServer"]
    for line in lines:
        figure = re.search(r": ([0-9.]+) µs of CPU per event", line)
        assert figure and float(figure.group(1)) > 0, line
