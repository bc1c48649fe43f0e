"""The package's imports point one way: no cycle, layers stay low.

The graph is read from the source with `ast`, not by importing: an edge
`a -> b` for every `import` or `from ... import` statement of module `a`
that names a module `b` of keras_dccl. Imports inside functions (lazy
imports, which keep TensorFlow and Keras off the NumPy path) count as
edges too: a lazy import still makes `a` depend on `b`, and the cycle
between the layers and `TemperatureSchedule` was one. Not counted: the
implicit import of a module's parent packages, and the names that
`keras_dccl/__init__.py` resolves on first use from strings (no import
statement names them), so the top-level shortcuts never make a cycle.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parent.parent / "keras_dccl"
# What the layers must not reach: the training callbacks and model steps
# and the exporter sit above them, and TensorFlow is the exporter's alone.
FORBIDDEN_IN_LAYERS = (
    "keras_dccl.callbacks",
    "keras_dccl.export",
    "keras_dccl.models",
    "tensorflow",
    "tensorflow_text",
)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_names(path, modules):
    """Every dotted name imported by the module at `path`, lazy or not.

    `from package import name` imports the module `package.name` if
    `modules` holds it (its parent package only implicitly), else `package`.
    """
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                module = f"{base}.{alias.name}"
                names.append(module if module in modules else base)
    return names


def module_paths():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_graph():
    """`{module: set of keras_dccl modules it imports}`."""
    paths = module_paths()
    return {
        module: {name for name in imported_names(path, paths) if name in paths}
        - {module}
        for module, path in paths.items()
    }


def find_cycle(graph):
    """A list of modules `[a, b, ..., a]` forming a cycle, or `None`."""
    done = set()
    for start in sorted(graph):
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        while stack:
            module, children = stack[-1]
            child = next(children, None)
            if child is None:
                done.add(module)
                stack.pop()
                path.pop()
            elif child in path:
                return path[path.index(child) :] + [child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_the_graph_holds_the_known_edges():
    graph = import_graph()
    assert "keras_dccl.layers.codebook_embedding" in graph
    # A top-level import, a lazy one, and `from package import module`.
    assert (
        "keras_dccl.layers.code_embedding_base"
        in graph["keras_dccl.layers.codebook_embedding"]
    )
    assert (
        "keras_dccl.compression.gumbel_training"
        in graph["keras_dccl.compression.compress"]
    )
    assert "keras_dccl.layers.codebook_embedding" in graph["keras_dccl.layers"]


@pytest.mark.parametrize(
    "graph, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
    ],
)
def test_find_cycle(graph, cycle):
    assert find_cycle(graph) == cycle


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_layers_import_neither_callbacks_export_nor_tensorflow():
    paths = module_paths()
    problems = [
        f"{module} imports {name}"
        for module, path in sorted(paths.items())
        if module.startswith("keras_dccl.layers")
        for name in imported_names(path, paths)
        if any(
            name == forbidden or name.startswith(forbidden + ".")
            for forbidden in FORBIDDEN_IN_LAYERS
        )
    ]
    assert not problems, problems
