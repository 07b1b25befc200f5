"""The house's rules, read from the source: what may import or touch what."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "local_rerank" / "reranker.py"
BACKENDS = ROOT / "local_rerank" / "backends"


def _sources() -> list[Path]:
    return sorted(path for folder in ("local_rerank", "tui", "tools") for path in (ROOT / folder).rglob("*.py"))


def test_only_the_engine_touches_a_rerankers_backend_or_encoder() -> None:
    """Scoring goes through :class:`~local_rerank.reranker.Reranker` (prepare, score_prompts, info):
    no caller reaches through it to the backend or the prompt encoder."""
    reach = re.compile(r"reranker\.(backend|encoder)\b")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in _sources() if path != ENGINE and not path.is_relative_to(BACKENDS)
             for number, line in enumerate(path.read_text().splitlines(), start=1) if reach.search(line)]
    assert len(_sources()) > 50 and found == []


# The layers, bottom up: a module imports its own layer and the ones below, never one above.
LAYERS = (
    ("foundation", {"errors", "text", "files", "recipe", "tokenizer", "documents", "gguf_reader", "gguf_file",
                    "hardware", "formats", "manifest", "cache", "settings"}),
    ("runtime", {"backends", "selector", "reranker", "scoring_queue"}),  # the engine and what it runs
    ("conversion", {"convert"}),
    ("models", {"store", "calibration", "doctor", "loading"}),
    ("search", {"search"}),
    ("services", {"eval", "batch", "serve", "mcp_server"}),
    ("front ends", {"cli", "tui", "__main__", "__init__"}),
)
# Imported inside a function on purpose: each loads a package of an optional extra (textual for the
# TUI; FastAPI, uvicorn and Starlette for serve; pydantic for mcp) that `import local_rerank.cli`
# must neither pay for nor need.
DEFERRED = {"tui.app": "textual", "local_rerank.serve.app": "fastapi", "local_rerank.serve.runner": "uvicorn",
            "local_rerank.serve.guard": "starlette", "local_rerank.mcp_server": "pydantic"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[ast.AST, str, bool]]:
    """(node, the project module imported, whether inside a function) for each import of ours."""
    found = []
    tree = ast.parse(path.read_text())
    inside = {id(node) for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function)}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names
                          if _is_module(f"{node.module}.{alias.name}")]
            names = submodules or [node.module]  # `from package import module` imports the module
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.split(".")[0] in ("local_rerank", "tui"):
                found.append((node, name, id(node) in inside))
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (ROOT / relative.with_suffix(".py")).is_file() or (ROOT / relative / "__init__.py").is_file()


def _layer(module: str) -> int:
    parts = module.split(".")
    key = "tui" if parts[0] == "tui" else parts[1] if len(parts) > 1 else "__init__"
    return next(number for number, (_, members) in enumerate(LAYERS) if key in members)


def _package_sources() -> list[Path]:
    return sorted(path for folder in ("local_rerank", "tui") for path in (ROOT / folder).rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    for path in _package_sources():
        _layer(_module_name(path))  # StopIteration names a module no layer holds


def test_imports_never_run_up_a_layer() -> None:
    upward = [f"{_module_name(path)} ({LAYERS[_layer(_module_name(path))][0]}) imports {target} "
              f"({LAYERS[_layer(target)][0]})"
              for path in _package_sources() for _, target, _ in _imports(path)
              if _layer(target) > _layer(_module_name(path))]
    assert upward == []


def test_no_import_inside_a_function_but_the_heavy_front_doors() -> None:
    deferred = {target for path in _package_sources() for _, target, inside in _imports(path) if inside}
    assert deferred <= set(DEFERRED), deferred - set(DEFERRED)


@pytest.mark.parametrize("module", sorted(DEFERRED))
def test_each_deferred_import_does_load_its_heavy_package(module: str) -> None:
    """An import may wait inside a function only if importing it at the top would cost this."""
    code = f"import sys, {module}; print({DEFERRED[module]!r} in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "True"


def test_no_circle_among_the_modules() -> None:
    graph = {_module_name(path): {target for _, target, _ in _imports(path)} for path in _package_sources()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str]:
        if module in visiting:
            return visiting[visiting.index(module):] + [module]
        if module in done or module not in graph:
            return []
        visiting.append(module)
        for target in sorted(graph[module]):
            if target != module and not module.startswith(target + ".") and (circle := visit(target)):
                return circle
        visiting.pop()
        done.add(module)
        return []

    circles = [circle for module in sorted(graph) if (circle := visit(module))]
    assert circles == []
