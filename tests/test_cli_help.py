"""Every command's --help carries examples that parse; the bash completion script
(generated, and shipped as contrib/station-agent.bash) completes in a real bash."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from station_agent.cli.commands import build_parser, parse
from station_agent.cli.completion import bash_script
from station_agent.cli.examples import EXAMPLES, walk
from station_agent.cli.main import main
from tests.conftest import REPO, run_cli

SHIPPED = REPO / "contrib" / "station-agent.bash"
PATHS = [path for path, _p in walk(build_parser())]


def _argv(line: str) -> list[str]:
    """The arguments of one example line, without comment, redirection or pipe."""
    words = shlex.split(line.split("  #")[0])
    for stop in (">", "|", "&&", ";"):
        if stop in words:
            words = words[:words.index(stop)]
    assert words[0] == "station-agent", line
    return words[1:]


@pytest.mark.parametrize("path", PATHS)
def test_every_command_has_examples_that_parse(path: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    lines = [x for x in EXAMPLES.get(path, ()) if x.startswith("station-agent")]
    assert lines, f"`station-agent {path}` has no example in its --help"
    for line in lines:
        args = build_parser().parse_args(_argv(line))
        assert args.command == (path.split()[0] if path else args.command), line
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*path.split(), "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and lines[0].split("  #")[0].strip() in out


def test_examples_name_only_real_commands() -> None:
    assert set(EXAMPLES) <= set(PATHS), set(EXAMPLES) - set(PATHS)


def test_a_wrong_command_is_one_line_naming_the_help() -> None:
    r = run_cli("blankz")
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1
    assert "invalid choice: 'blankz'" in r.err and "station-agent --help" in r.err


def test_the_shipped_completion_script_is_the_generated_one() -> None:
    r = run_cli("completion", "bash")
    assert r.code == 0
    assert r.out == bash_script(build_parser())
    assert SHIPPED.read_text() == r.out, ("contrib/station-agent.bash is stale: regenerate it "
                                          "with `station-agent completion bash`")


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What bash completes for ``line`` (the cursor at its end), using the shipped script."""
    words = line.split(" ")
    script = (f"source {shlex.quote(str(SHIPPED))}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "_station_agent\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                         text=True, check=True, cwd=tmp_path, timeout=20)
    return sorted(w for w in out.stdout.splitlines() if w)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(("line", "expected"), [
    ("station-agent bl", ["blanks"]),
    ("station-agent d", ["demo", "diag"]),
    ("station-agent --state-dir /tmp/x bl", ["blanks"]),
    ("station-agent blanks ", ["adjust", "dispose", "receive", "write-off"]),
    ("station-agent blanks receive --f", ["--first-serial"]),
    ("station-agent report --format ", ["csv", "html", "text"]),
    ("station-agent report --lang i", ["id"]),
    ("station-agent printer info --family m", ["magicard"]),
    ("station-agent diag --j", ["--json"]),
    ("station-agent --config station.toml printer st", ["status"]),
    ("station-agent completion ", ["bash"]),
    ("station-agent sim server --mode f", ["flapping"]),
])
def test_bash_completes_commands_options_and_choices(line: str, expected: list[str],
                                                     tmp_path: Path) -> None:
    assert _complete(line, tmp_path) == expected


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_file_names_for_path_options(tmp_path: Path) -> None:
    (tmp_path / "station.toml").write_text("")
    (tmp_path / "state").mkdir()
    assert _complete("station-agent --config sta", tmp_path) == ["state", "station.toml"]
    assert _complete("station-agent report --output sta", tmp_path) == ["state", "station.toml"]


def _documented_forms() -> list[list[str]]:
    """Every command form in docs/CLI.md's command table, as words (alternatives
    ``a|b`` expanded; placeholders, options and ``...`` dropped)."""
    forms: list[list[str]] = []
    text = (REPO / "docs" / "CLI.md").read_text()
    table = text[text.index("| command | what |"):].split("\n\n")[0]
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split(" | ")[0]
        for code in re.findall(r"`([^`]+)`", first):
            words: list[str] = []
            for w in code.replace("\\|", "|").split():
                if w.startswith(("[", "-", ".")) or w.isupper() or w.endswith(","):
                    break
                words.append(w)
            if not words:
                continue
            last = words[-1].split("|")
            forms += [[*words[:-1], alt] for alt in last]
    return forms


DOCUMENTED = _documented_forms()


def test_the_cli_doc_lists_every_command() -> None:
    documented = {form[0] for form in DOCUMENTED}
    commands = {path.split()[0] for path in PATHS if path}
    assert commands == documented, (
        f"in the parser, not in docs/CLI.md: {sorted(commands - documented)}; "
        f"in docs/CLI.md, not in the parser: {sorted(documented - commands)}")


@pytest.mark.parametrize("form", DOCUMENTED, ids=" ".join)
def test_every_command_form_in_the_cli_doc_has_help(
        form: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*form, "--help"])
    assert exit_info.value.code == 0, f"`station-agent {' '.join(form)} --help` failed"
    assert capsys.readouterr().out.startswith(f"usage: station-agent {form[0]}")


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_and_state_dir_go_before_or_after_the_command(where: str, tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\nid = "office-7"\nstate_dir = "{tmp_path / "state"}"\n')
    opts = ["--config", str(config)]
    args = [*opts, "run", "--check-config"] if where == "before" else [
        "run", "--check-config", *opts]
    r = run_cli(*args)
    assert r.code == 0, r.err
    assert "office-7" in r.out
    state = ["--state-dir", str(tmp_path / "other")]
    r = run_cli(*([*state, "blanks", "--json"] if where == "before" else
                  ["blanks", "--json", *state]))
    assert r.code == 1 and "other" in r.err, r.err   # no ledger there: named in the error


def test_json_before_the_command_means_json() -> None:
    args = parse(["--json", "status"])
    assert args.json is True
    assert parse(["status"]).json is False
