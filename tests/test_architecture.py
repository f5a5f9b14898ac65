"""The shape of the package: imports flow one way, and the library speaks Python.

Every module of the installed package is parsed with ``ast``; every import
statement counts, at module level or inside a function (a deferred import is
still a dependency, only a later one). Imports under ``if TYPE_CHECKING:`` are
left out: they never run. In a checkout the folders an install maps into the
package (``cli/``, ``pretrained/``, ``examples/``) are read as its subpackages,
so an import of ``conceptvae.cli`` is seen for what it is.
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


def mapped_folders(root: Path) -> dict[str, Path]:
    """In a checkout, the top-level folders an install maps into the package (as
    ``conceptvae/__init__.py`` maps them at run time); none in an install."""
    if (root / "cli").is_dir() or not (root.parent / "pyproject.toml").is_file():
        return {}
    return {
        f"{PACKAGE}.{sub}": root.parent / sub
        for sub in ("cli", "pretrained", "examples")
        if (root.parent / sub / "__init__.py").is_file()
    }


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file of the package."""
    out = {}
    for base, folder in [(PACKAGE, root), *mapped_folders(root).items()]:
        for path in sorted(folder.rglob("*.py")):
            parts = [*base.split("."), *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def nearest(dotted: str) -> str:
        """The module ``dotted`` names (an attribute import names its module); a module
        the package does not hold is reported as itself, never as the package root."""
        probe = dotted
        while probe not in known and "." in probe:
            probe = probe.rpartition(".")[0]
        return dotted if probe == PACKAGE and dotted != PACKAGE else probe

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
                if hit != name:
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


def import_graph(root: Path | None = None) -> dict[str, set[str]]:
    mods = modules(package_root() if root is None else root)
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


def cli_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of the CLI from outside it ("a -> b")."""
    return [
        f"{name} -> {d}"
        for name, deps in sorted(graph.items())
        # The front end itself, and `python -m conceptvae`.
        if not (name == "conceptvae.cli" or name.startswith("conceptvae.cli."))
        and name != "conceptvae.__main__"
        for d in sorted(deps)
        if d == "conceptvae.cli" or d.startswith("conceptvae.cli.")
    ]


def test_the_library_never_imports_the_cli():
    graph = import_graph()
    assert any(name.startswith("conceptvae.cli.") for name in graph), "the CLI is not read"
    assert not cli_imports(graph)


# -- layers: data flows one way ---------------------------------------------------------

# Bottom to top; a module may import its own layer and those below, never above. A new
# module (or package prefix) gets a layer here: the test names any it does not know.
LAYERS = [
    # "conceptvae" is the package's __init__ alone; every other name covers its submodules.
    ("base", ["conceptvae", "conceptvae.errors", "conceptvae.options", "conceptvae.lazy",
              "conceptvae.version", "conceptvae.io", "conceptvae.readers", "conceptvae.extras",
              "conceptvae.examples", "conceptvae.pretrained", "conceptvae.shipped"]),
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
            covers = module == p or (p != PACKAGE and module.startswith(p + "."))
            if covers and (best is None or len(p) > len(best[1])):
                best = (i, p)
    return None if best is None else best[0]


def unlayered(graph: dict[str, set[str]]) -> list[str]:
    """Modules, and modules imported, that LAYERS does not place."""
    named = set(graph).union(*graph.values())
    return sorted(m for m in named if layer_of(m) is None)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer ("a (layer) imports b (layer)")."""
    return [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, deps in sorted(graph.items())
        for b in sorted(deps)
        if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a)
    ]


def test_every_module_has_a_layer_and_imports_only_downwards():
    graph = import_graph()
    unknown = unlayered(graph)
    assert not unknown, f"give these modules a layer in LAYERS: {unknown}"
    upward = upward_imports(graph)
    assert not upward, "\n".join(upward)


def _fake_checkout(tmp_path: Path, with_cli: bool) -> Path:
    """A package with an unlisted module and a library module importing the CLI."""
    root = tmp_path / PACKAGE
    root.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (root / "__init__.py").write_text("from .lazy import lazy_module\n")
    (root / "lazy.py").write_text("import importlib\n")
    (root / "brand_new.py").write_text("from .errors import ConceptVAEError\n")
    (root / "errors.py").write_text("")
    (root / "images.py").write_text(
        "def f():\n    from conceptvae.cli.options import flag\n    return flag\n"
    )
    if with_cli:
        (tmp_path / "cli").mkdir()
        (tmp_path / "cli" / "__init__.py").write_text("")
        (tmp_path / "cli" / "options.py").write_text("from conceptvae.errors import x\n")
    return root


def test_the_checks_catch_an_unlisted_module_and_a_library_import_of_the_cli(tmp_path):
    for with_cli in (True, False):
        graph = import_graph(_fake_checkout(tmp_path / str(with_cli), with_cli))
        assert "conceptvae.cli.options" in graph["conceptvae.images"]
        assert cli_imports(graph) == ["conceptvae.images -> conceptvae.cli.options"]
        assert unlayered(graph) == ["conceptvae.brand_new"]
        assert upward_imports(graph) == [
            "conceptvae.images (values) imports conceptvae.cli.options (front ends)"
        ]
        assert ("conceptvae.cli.options" in graph) is with_cli
    # The root names the package's __init__ only; its real modules are each listed.
    assert layer_of("conceptvae") == 0 and layer_of("conceptvae.brand_new") is None
    assert layer_of("conceptvae.readers") == 0 and layer_of("conceptvae.training.fit") == 4


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
