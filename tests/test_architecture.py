"""The shape of the package: imports flow one way, and the library speaks Python.

Every module of the installed package is parsed with ``ast``; every import
statement counts, at module level or inside a function (a deferred import is
still a dependency, only a later one). Imports under ``if TYPE_CHECKING:`` are
left out: they never run (the package's lazy public API names its modules there).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

PACKAGE = "conceptvae"


def package_root() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = [PACKAGE, *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def nearest(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from pkg import mod` imports the submodule; `from mod import name` the module.
            targets = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in known else source
                for a in node.names
            ]
        else:
            continue
        for t in targets:
            if t == PACKAGE or t.startswith(PACKAGE + "."):
                hit = nearest(t)
                if hit is not None and hit != name:
                    found.add(hit)
    return found


def _runtime_nodes(tree: ast.AST):  # noqa: ANN202
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and "TYPE_CHECKING" in ast.unparse(test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def import_graph() -> dict[str, set[str]]:
    mods = modules(package_root())
    known = set(mods)
    return {name: imported(name, path, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_is_read_from_every_import_statement():
    graph = import_graph()
    # A module-level import, one inside a function, and a relative submodule import.
    assert "conceptvae.errors" in graph["conceptvae.io"]
    assert "conceptvae.concepts.library" in graph["conceptvae.resolve"]
    assert "conceptvae.model.files" in graph["conceptvae.model.registry"]
    assert len(graph) > 30


def test_type_checking_imports_are_left_out():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nimport b\n")
    names = {a.name for n in _runtime_nodes(tree) if isinstance(n, ast.Import) for a in n.names}
    assert names == {"b"}


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_library_never_imports_the_cli():
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("conceptvae.cli") or name == "conceptvae.__main__":
            continue  # the front end itself, and `python -m conceptvae`
        assert not any(d.startswith("conceptvae.cli") for d in deps), name


# -- layers: data flows one way ---------------------------------------------------------

# Bottom to top; a module may import its own layer and those below, never above. A new
# module (or package prefix) gets a layer here: the test names any it does not know.
LAYERS = [
    ("base", ["conceptvae", "conceptvae.errors", "conceptvae.options", "conceptvae.lazy",
              "conceptvae.io", "conceptvae.examples"]),
    ("values", ["conceptvae.checks", "conceptvae.images", "conceptvae.config",
                "conceptvae.outputs", "conceptvae.latent", "conceptvae.render",
                "conceptvae.blending"]),
    ("data and models", ["conceptvae.data", "conceptvae.model", "conceptvae.keyframes",
                         "conceptvae.faces"]),
    ("concepts", ["conceptvae.concepts"]),
    ("resolution and training", ["conceptvae.resolve", "conceptvae.training",
                                 "conceptvae.distribute"]),
    ("domain", ["conceptvae.editing", "conceptvae.sequences", "conceptvae.script",
                "conceptvae.latent_maps", "conceptvae.animate"]),
    ("commands", ["conceptvae.commands"]),
    ("front ends", ["conceptvae.cli", "conceptvae.__main__", "conceptvae.studio"]),
]  # fmt: skip


def layer_of(module: str) -> int | None:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (
                best is None or len(p) > len(best[1])
            ):
                best = (i, p)
    return None if best is None else best[0]


def test_every_module_has_a_layer_and_imports_only_downwards():
    graph = import_graph()
    unknown = sorted(m for m in graph if layer_of(m) is None)
    assert not unknown, f"give these modules a layer in LAYERS: {unknown}"
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, deps in graph.items()
        for b in deps
        if layer_of(b) > layer_of(a)
    ]
    assert not upward, "\n".join(upward)


def test_only_commands_write_files():
    """Domain modules return arrays and results; the commands (and animate under them)
    write the user's files."""
    domain = ["conceptvae.editing", "conceptvae.sequences", "conceptvae.script",
              "conceptvae.latent_maps", "conceptvae.keyframes", "conceptvae.resolve"]  # fmt: skip
    graph, mods = import_graph(), modules(package_root())
    for name in domain:
        assert not any(d.startswith(("conceptvae.commands", "conceptvae.animate"))
                       for d in graph[name]), name  # fmt: skip
        tree = ast.parse(mods[name].read_text())
        imported_names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                          for a in n.names}  # fmt: skip
        writers = {n for n in imported_names if n.startswith(("atomic_", "save_", "write_"))}
        assert not writers, f"{name} imports {writers}"


# -- the library speaks Python --------------------------------------------------------

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def library_flag_strings() -> list[tuple[str, int, str]]:
    """String literals outside the front ends (cli/, studio/) that spell a ``--flag``
    (docstrings left out)."""
    root = package_root()
    found = []
    front_ends = len(LAYERS) - 1
    for name, path in modules(root).items():
        if layer_of(name) == front_ends:
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and FLAG.search(node.value)
            ):
                found.append((name, node.lineno, node.value))
    return found


def test_at_most_a_handful_of_library_strings_spell_a_flag():
    found = library_flag_strings()
    # What is left names a whole CLI command to run (e.g. `conceptvae concepts build ... --pca 2`).
    assert len(found) <= 5, "\n".join(f"{m}:{line}: {text!r}" for m, line, text in found)
    assert FLAG.search("pass --ignore-fingerprint") and not FLAG.search("a->b, x-y, -3:3")


def test_library_errors_name_parameters_and_the_cli_names_its_flags(runner, tiny_model):
    from conceptvae.cli.options import flag
    from conftest import invoke

    from conceptvae.errors import ConceptVAEError, param

    err = ConceptVAEError(f"{param('max_amount')} must be positive; see {param('concepts')}", "x")
    assert str(err) == "x: max_amount must be positive; see concepts"
    assert err.render(flag) == "x: --max-amount must be positive; see --concept"
    assert flag("n") == "-n" and flag("ignore_fingerprint") == "--ignore-fingerprint"
    r = invoke(runner, "edit", "a.png", "-m", tiny_model, "-c", "x", "--max-amount", "0")
    assert r.exit_code == 2 and "Error: --max-amount must be a finite number" in r.stderr
