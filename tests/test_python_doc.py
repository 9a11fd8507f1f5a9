"""docs/PYTHON.md's examples run, in order, against a real daemon (a subprocess with
its own state directory), and print what the comments in them say."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.station.agent_process import AgentProcess
from tests.conftest import REPO, cli_env

DOC = REPO / "docs" / "PYTHON.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture
def daemon() -> Iterator[AgentProcess]:
    with tempfile.TemporaryDirectory(prefix="sa-doc-") as root:
        base = Path(root)
        config = base / "station.toml"
        config.write_text(f'[station]\nid = "office-7"\nstate_dir = "{base / "state"}"\n\n'
                          '[web]\nlisten = "127.0.0.1:0"\n')
        agent = AgentProcess(config, base / "state", base / "daemon.log")
        agent.start(cli_env())
        try:
            yield agent
        finally:
            agent.stop()


def _expected(block: str) -> list[str]:
    """What a block's ``print`` lines say they print (``# 198`` after a print)."""
    out = []
    for line in block.splitlines():
        m = re.match(r"\s*print\(.*\)\s+#\s*(.+)$", line)
        if m:
            out.append(m.group(1).strip())
    return out


def test_the_python_doc_examples_run_and_print_what_they_say(
        daemon: AgentProcess, tmp_path: Path) -> None:
    blocks = _blocks()
    assert len(blocks) >= 6, "docs/PYTHON.md lost its examples"
    namespace: dict[str, Any] = {"state_dir": daemon.state, "scratch": tmp_path}
    for n, block in enumerate(blocks, 1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, f"{DOC.name} example {n}", "exec"), namespace)
        printed = out.getvalue().splitlines()
        for said in _expected(block):
            # The comment is the start of the printed line ("..." elides, a
            # parenthesis explains).
            head = re.sub(r"\s*\(.*\)$", "", said).split("...")[0].strip()
            assert any(line.startswith(head) for line in printed), (
                f"example {n} should print {said!r}; it printed {printed}")
    # The library's writes went through the daemon: its own ledger says so.
    b = namespace["station_agent"].Client(daemon.state).blanks()
    assert (b.received, b.issued, b.spoiled_held) == (500, 1, 1)
