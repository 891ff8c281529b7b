"""How the `charter` process ends: `compiler.cli.entry` skips the interpreter's teardown, not its duties."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=60)


def test_atexit_work_still_runs_and_the_output_arrives_whole(tmp_path):
    code = (
        "import atexit, sys\n"
        "from pathlib import Path\n"
        "import compiler.cli as cli\n"
        "atexit.register(lambda: Path('done').write_text('yes'))\n"
        "cli.main = lambda: (sys.stdout.write('x' * 200000), 3)[1]\n"
        "class Freed:\n"
        "    def __del__(self):\n"
        "        Path('freed').write_text('teardown ran')\n"
        "kept = Freed()  # alive until the interpreter tears down its modules\n"
        "cli.entry()\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "x" * 200000  # buffered output is flushed before the hard exit
    assert (tmp_path / "done").read_text() == "yes"
    assert not (tmp_path / "freed").exists()  # no teardown: the process ended in entry()


def test_a_running_non_daemon_thread_is_waited_for(tmp_path):
    code = (
        "import threading, time\n"
        "from pathlib import Path\n"
        "import compiler.cli as cli\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    Path('late').write_text('written')\n"
        "cli.main = lambda: (threading.Thread(target=late).start(), 0)[1]\n"
        "cli.entry()\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late").read_text() == "written"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_output_that_cannot_be_written_is_never_a_success(tmp_path):
    code = ("import sys\nimport compiler.cli as cli\n"
            "sys.stdout = open(1, 'w', buffering=1 << 20, closefd=False)  # held until entry() flushes it\n"
            "cli.main = lambda: (sys.stdout.write('report'), 0)[1]\ncli.entry()\n")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=ENV, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    # the words `main` uses for a full disk (compiler.atomic.os_problem)
    assert "charter: error: cannot write `the standard output`: no space left on the device (ENOSPC)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    code = ("import sys\nimport compiler.cli as cli\n"
            "cli.main = lambda: (sys.stdout.write('x' * 1000000), 0)[1]\ncli.entry()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # as `| head -c 10` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "Exception ignored" not in err


def test_the_program_validates_specs_without_loading_pydantic_plugins(tmp_path):
    # `main` is looked up when entry() runs: the wrapper runs the real one, then reports the import
    code = ("import sys\nimport compiler.cli as cli\nreal = cli.main\n"
            f"def run():\n    code = real(['validate', '--root', {str(REPO)!r}])\n"
            "    print('metadata' if 'importlib.metadata' in sys.modules else 'no metadata')\n"
            "    return code\n"
            "cli.main = run\ncli.entry()\n")
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("no metadata")  # the specs were validated, and no scan was imported


def test_a_bad_spec_is_still_reported_by_the_program(tmp_path):
    (tmp_path / "charter.yaml").write_text("apiVersion: charter/v1\nkind: Project\nmetadata: {name: p}\n"
                                           "spec: {specs: [specs]}\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "m.yaml").write_text("apiVersion: charter/v1\nkind: Model\nmetadata: {name: m}\n"
                                               "spec: {colum: 1}\n")
    done = subprocess.run([sys.executable, "-m", "compiler", "validate"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "S203" in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_pydantic_asks_its_plugin_loader_for_get_plugins_only():
    """`compiler.cli._no_pydantic_plugins` gives pydantic a loader with that one function."""
    import ast

    import pydantic

    package = Path(pydantic.__file__).parent
    asked = set()
    for source in package.rglob("*.py"):
        if source.parts[-2] == "v1" or source.name == "_loader.py":
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_loader"):
                asked.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                assert not any(a.name.endswith("plugin._loader") for a in node.names), source
    assert asked == {"get_plugins"}
