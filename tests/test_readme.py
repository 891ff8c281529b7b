"""The README's two commands are what CI runs, and its usage lines match the parser."""

from __future__ import annotations

import re

from tests.conftest import REPO, run_charter

README = (REPO / "README.md").read_text(encoding="utf-8")
CI = (REPO / ".ci/run").read_text(encoding="utf-8")


def commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv .*)\n```", README)


def test_ci_runs_the_readme_test_command_unchanged():
    main, tests = commands()
    assert tests in CI.splitlines(), "the README's test command must be a line of .ci/run, unchanged"
    assert main in CI, "the README's main command must be in .ci/run"


def test_both_commands_install_from_the_lock():
    for command in commands():
        assert "-c requirements/constraints.txt" in command
    assert (REPO / "requirements/constraints.txt").is_file()


def test_target_flag_takes_both_forms(example_repo):
    assert "--target NAME...]" in README
    assert run_charter("compile", "--target", "codeowners", "docs", cwd=example_repo).returncode == 0
    for args in (["--target", "codeowners", "docs"], ["--target", "codeowners", "--target", "docs"]):
        result = run_charter("compile", "--check", *args, cwd=example_repo)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ok: 4 generated file(s) up to date\n"
