"""The command line's layout, read from the source: one module per command, none importing another."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "local_rerank" / "cli"
SHARED = {"local_rerank.cli.model_options", "local_rerank.cli.common"}


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def test_a_command_module_imports_no_other_command_module() -> None:
    commands = [path for path in CLI.glob("*.py") if f"local_rerank.cli.{path.stem}" not in SHARED
                and path.name != "__init__.py"]
    found = {path.name: sorted(module for module in _imported(path)
                               if module.startswith("local_rerank.cli") and module not in SHARED)
             for path in commands}
    assert len(commands) == 10 and all(not modules for modules in found.values()), found
