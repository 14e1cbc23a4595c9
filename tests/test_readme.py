"""The README matches the tool: every `ctmirror ...` command in it parses with the command line,
every flag its command table names exists, and its Markdown tables render as tables."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from markdown_it import MarkdownIt

from ctmirror.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _tokens() -> list[Any]:
    return MarkdownIt("commonmark").enable("table").parse(README.read_text())


def _shell_commands() -> list[list[str]]:
    """The `ctmirror` command lines of the README's shell blocks, as argument lists (a quoted
    query may span lines; environment assignments in front are dropped)."""
    commands = []
    for token in _tokens():
        if token.type != "fence" or token.info.strip() not in ("sh", "bash", "shell"):
            continue
        pending = ""
        for line in token.content.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                continue
            pending = ""
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if words and words[0] == "ctmirror":
                commands.append(words[1:])
    return commands


def _inline_commands() -> list[list[str]]:
    """Complete `ctmirror ...` commands quoted in the prose (not the synopses of the command
    table, which use [optional] and a|b)."""
    commands = []
    in_table = False
    for token in _tokens():
        in_table = (in_table or token.type == "table_open") and token.type != "table_close"
        if token.type != "inline" or in_table:
            continue
        for child in token.children or []:
            text = child.content
            if (child.type == "code_inline" and text.startswith("ctmirror ") and "--" in text
                    and not any(mark in text for mark in ("[", "|", "...", "<"))):
                commands.append(shlex.split(text)[1:])
    return commands


def _resolve(args: list[str]) -> tuple[Any, list[str], str]:
    """The click command that ``args`` name, the arguments left for it, and its path."""
    command: Any = typer.main.get_command(app)
    path = ["ctmirror"]
    while hasattr(command, "get_command") and args:
        sub = command.get_command(None, args[0])
        if sub is None:
            break
        command, path, args = sub, [*path, args[0]], args[1:]
    return command, args, " ".join(path)


SHELL = _shell_commands()
INLINE = _inline_commands()


def test_the_readme_has_commands_to_check() -> None:
    assert len(SHELL) >= 20 and len(INLINE) >= 1
    assert ["sql", "--root", "demo/mirror", "--format", "json",
            "SELECT response FROM sweeps WHERE specimen_id = 2100000001 AND sweep_number = 16"
            ] in SHELL


@pytest.mark.parametrize("args", SHELL + INLINE, ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_parses(args: list[str]) -> None:
    command, rest, path = _resolve(list(args))
    if rest == ["--help"]:  # every command and group has it; parsing it would exit
        return
    assert not hasattr(command, "get_command"), f"{path}: no such command {rest[:1]}"
    command.make_context(path, rest)  # raises on an unknown option, a bad value, a missing one


def _table_rows() -> list[str]:
    rows, in_table, cell = [], False, False
    for token in _tokens():
        if token.type == "table_open":
            in_table = True
        elif token.type == "table_close":
            in_table = False
        elif token.type == "td_open":
            cell = True
        elif token.type == "inline" and in_table and cell:
            rows.append(token.content)
            cell = False
        elif token.type == "tr_close":
            cell = False
    return rows


def test_every_flag_in_the_command_table_exists() -> None:
    checked = 0
    for first_cell in (row for row in _table_rows() if row.startswith("`ctmirror ")):
        synopsis = first_cell.split("`")[1].removeprefix("ctmirror ")
        for part in synopsis.split(" / "):
            part = part.removeprefix("ctmirror ")
            words = [w for w in re.split(r"[\s\[\]|]+", part) if re.fullmatch(r"[a-z-]+", w)]
            command, _, path = _resolve(words)
            names = {name for param in command.params
                     for name in (*param.opts, *param.secondary_opts)}
            for flag in re.findall(r"--[a-z][a-z0-9-]*", part):
                assert flag in names, f"{path} has no {flag}"
                checked += 1
    assert checked >= 30


def test_tables_render() -> None:
    """Every line that starts with | is part of a rendered table (a blank line inside one
    would leave its last rows as text)."""
    tokens = _tokens()
    in_tables = set()
    for token in tokens:
        if token.type == "table_open" and token.map:
            in_tables.update(range(*token.map))
    fenced = set()
    for token in tokens:
        if token.type == "fence" and token.map:
            fenced.update(range(*token.map))
    stray = [number + 1 for number, line in enumerate(README.read_text().splitlines())
             if line.startswith("|") and number not in in_tables | fenced]
    assert stray == []
    assert sum(t.type == "table_open" for t in tokens) >= 2


def test_one_way_to_run_the_tool() -> None:
    """The README says once to activate the virtualenv; its commands then say `ctmirror`."""
    text = README.read_text()
    assert text.count("source .venv/bin/activate") >= 1
    blocks = [t.content for t in _tokens() if t.type == "fence"]
    assert not any(".venv/bin/ctmirror" in block for block in blocks)
