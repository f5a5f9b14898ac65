"""Size limits that keep modules and functions readable, over conceptvae/ and cli/.

No module over 600 lines, no function over 100 lines, no public function (module
level or method, name without a leading underscore) taking more than 8 parameters
by position (positional-or-keyword ones before any ``*``, self/cls left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100
MAX_POSITIONAL = 8


def _functions(tree: ast.Module):  # noqa: ANN202
    """(function, is a method, is module-level or a method) for every function,
    nested ones included (those only count for length)."""
    todo: list[tuple[ast.AST, bool]] = [(tree, False)]
    while todo:
        node, in_class = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield child, in_class, node is tree or in_class
                todo.append((child, False))
            else:
                todo.append((child, isinstance(child, ast.ClassDef)))


def positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> int:
    args = [*fn.args.posonlyargs, *fn.args.args]
    if method and args and args[0].arg in ("self", "cls"):
        args = args[1:]
    return len(args)


def offences(path: Path) -> set[str]:
    """What ``path`` breaks: "module lines", "<function> lines", "<function> positional"."""
    text = path.read_text()
    found = set()
    if len(text.splitlines()) > MAX_MODULE_LINES:
        found.add("module lines")
    for fn, method, top in _functions(ast.parse(text, str(path))):
        if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES:
            found.add(f"{fn.name} lines")
        if top and not fn.name.startswith("_") and positional(fn, method) > MAX_POSITIONAL:
            found.add(f"{fn.name} positional")
    return found


def all_offences() -> set[tuple[str, str]]:
    files = [*sorted((ROOT / "conceptvae").rglob("*.py")), *sorted((ROOT / "cli").rglob("*.py"))]
    assert len(files) > 50
    return {(p.relative_to(ROOT).as_posix(), o) for p in files for o in offences(p)}


def test_no_module_function_or_signature_over_the_limits():
    found = sorted(all_offences())
    assert not found, "over the limits (split it, or take keyword-only parameters):\n" + "\n".join(
        f"{f}: {o}" for f, o in found
    )


def test_the_limits_see_each_kind_of_offence(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    src = (
        f"def long():\n{body}\n\n"
        "def wide(a, b, c, d, e, f, g, h, i):\n    pass\n\n"
        "def _private(a, b, c, d, e, f, g, h, i):\n    pass\n\n"
        "def keywords(a, b, c, d, e, f, g, h, *, i):\n    pass\n\n"
        "class K:\n    def method(self, a, b, c, d, e, f, g, h):\n        pass\n"
        "    def wide_method(self, a, b, c, d, e, f, g, h, i):\n        pass\n"
    )
    path = tmp_path / "m.py"
    path.write_text(src + "\n" * MAX_MODULE_LINES)
    assert offences(path) == {
        "module lines", "long lines", "wide positional", "wide_method positional"
    }  # fmt: skip
