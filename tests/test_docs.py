"""The README and docs/: every `local-rerank` command shown parses against the real CLI (nothing is
run), every relative link resolves, and the README stays short."""
import re
import shlex
from pathlib import Path

import click
import pytest

from local_rerank.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250
# The docs show about 40 commands; far fewer means the extraction broke, not that they are fine.
MIN_COMMANDS = 40
SHELL_LANGUAGES = {"", "bash", "sh", "console", "shell"}
SHELL_SEPARATORS = {"&&", "||", ";", "|", "&"}
MENTIONS_COMMAND = re.compile(r"(?:^|[\s;&|/])local-rerank(?:\s|$)")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def shell_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command line) in the file's shell code blocks: `\\` continuations joined, `$ `
    prompts removed, and in a block with prompts only the prompted lines (the rest is output)."""
    blocks: list[list[tuple[int, str]]] = []
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if block is None:
                block, language = [], line[3:].strip().lower()
            else:
                if language in SHELL_LANGUAGES:
                    blocks.append(block)
                block = None
        elif block is not None:
            block.append((number, line))
    lines = []
    for block in blocks:
        prompted = any(text.startswith("$ ") for _, text in block)
        continued: tuple[int, str] | None = None
        for number, text in block:
            if continued:
                number, text = continued[0], continued[1] + " " + text.strip()
            elif prompted:
                if not text.startswith("$ "):
                    continue
                text = text[2:]
            if text.endswith("\\"):
                continued = (number, text[:-1].rstrip())
                continue
            continued = None
            lines.append((number, text))
    return lines


def commands(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, arguments) of each `local-rerank` run in the file's shell code blocks, also
    after `VAR=value` prefixes and `&&`, `;` or `|`, and by a path such as `venv/bin/local-rerank`."""
    found = []
    for number, line in shell_lines(path):
        if not MENTIONS_COMMAND.search(line):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        segment: list[str] = []
        for token in [*lexer, ";"]:
            if token not in SHELL_SEPARATORS:
                segment.append(token)
                continue
            while segment and ASSIGNMENT.match(segment[0]):
                segment.pop(0)
            if segment and Path(segment[0]).name == "local-rerank":
                found.append((number, segment[1:]))
            segment = []
    return found


def parse_error(args: list[str]) -> str | None:
    """Click's message if `local-rerank ARGS` does not parse, else None. Only parsing happens: no
    command runs, and no option of the CLI checks that a path exists."""
    try:
        ctx = cli.make_context("local-rerank", list(args))
        command: click.Command = cli
        while isinstance(command, click.Group):
            # Before click 9 the subcommand's name waits in _protected_args; from 9 on, all in args.
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            name, subcommand, rest = command.resolve_command(ctx, rest)
            assert subcommand, "without resilient parsing an unknown name raises instead"
            command, ctx = subcommand, subcommand.make_context(name, rest, parent=ctx)
    except click.ClickException as error:
        return error.format_message()
    return None


DOC_COMMANDS = [(path, number, args) for path in DOC_FILES for number, args in commands(path)]


def test_the_docs_show_enough_commands():
    assert len(DOC_COMMANDS) >= MIN_COMMANDS


@pytest.mark.parametrize(("path", "number", "args"), DOC_COMMANDS,
                         ids=[f"{path.relative_to(ROOT)}:{number}" for path, number, _ in DOC_COMMANDS])
def test_doc_command_parses(path, number, args):
    error = parse_error(args)
    assert error is None, f"{path.relative_to(ROOT)}:{number}: local-rerank {shlex.join(args)}: {error}"


@pytest.mark.parametrize("command", [
    "local-rerank rank --no-such-flag -q query doc",                        # unknown option
    "local-rerank rank doc",                                                 # missing --query
    "local-rerank rank -q query --device tpu doc",                           # bad choice
    "local-rerank rank -q query --top-k 0 doc",                              # out of range
    "local-rerank search ~/notes",                                           # missing QUERY
    "local-rerank eval FOLDER --compare MODEL_A",                            # --compare takes two
    "local-rerank models no-such-subcommand",                                # unknown subcommand
    "local-rerank no-such-command",                                          # unknown command
    "local-rerank batch in.jsonl out/ extra",                                # extra argument
])
def test_wrong_commands_are_rejected(tmp_path, command):
    doc = tmp_path / "doc.md"
    doc.write_text(f"Text.\n\n```sh\n{command}\n```\n", encoding="utf-8")
    [(number, args)] = commands(doc)
    assert number == 4
    assert parse_error(args)


def test_commands_are_found_after_prompts_continuations_and_prefixes(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("\n".join([
        "```console",
        "$ local-rerank rank -q 'a query' \\",
        "    --json doc",
        "local-rerank output, not a command",
        "```",
        "```python",
        "local-rerank rank --not-shell",
        "```",
        "```",
        "KEY=1 local-rerank serve --port 0  # a comment",
        "python -m venv v && v/bin/local-rerank models list; echo local-rerank",
        "```",
    ]), encoding="utf-8")
    assert commands(doc) == [
        (2, ["rank", "-q", "a query", "--json", "doc"]),
        (10, ["serve", "--port", "0"]),
        (11, ["models", "list"]),
    ]


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES


def prose(path: Path) -> str:
    """The file's text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the file's headings: lower case, punctuation dropped, spaces as `-`."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", prose(path), flags=re.MULTILINE)}


def broken_links(path: Path) -> list[str]:
    """Relative links in the file's prose whose file, or heading in a Markdown file, does not exist."""
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", DOC_FILES, ids=[str(path.relative_to(ROOT)) for path in DOC_FILES])
def test_relative_links_resolve(path):
    assert not broken_links(path), f"{path.relative_to(ROOT)}: broken links {broken_links(path)}"


def test_broken_links_are_found(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# A title: `here`\n\n[a](missing.md) [b](#no-heading) [c](doc.md#a-title-here) "
                   "[d](#a-title-here) [e](https://example.com/x.md)\n\n```sh\n[f](missing.txt)\n```\n",
                   encoding="utf-8")
    assert broken_links(doc) == ["missing.md", "#no-heading"]
