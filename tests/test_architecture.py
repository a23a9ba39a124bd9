"""The package's layers, read from the code's own imports (function-local ones included).

Each concept imports only concepts below it, so there is no import circle between concept
folders. The one pair of modules that need each other by design: ``registry`` loads the plugins
on first use (``plugin_manager``), whose ``wsvol_register`` hook registers into the registries.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "wsvol"

#: Bottom to top: a concept may import the concepts of lower layers only.
LAYERS = [
    {"wsvol", "utils", "hookspecs"},  # the package root holds only __version__
    {"registry", "plugin_manager"},
    {"config"},
    {"weights"},
    {"data", "cams", "sampling", "losses", "evaluation", "visualization"},
    {"models", "report"},
    {"pseudo_labels"},
    {"engine"},
    {"cli"},
    {"builtin_plugin", "__main__"},
]
BY_DESIGN = {("registry", "plugin_manager"), ("plugin_manager", "registry")}


def concept(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "wsvol":
        return None
    return parts[1] if len(parts) > 1 else "wsvol"


def imports() -> dict[tuple[str, str], list[str]]:
    """(importing concept, imported concept) → files, for every wsvol import between concepts."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        source = concept(".".join(rel.parts).removesuffix(".__init__"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                target = concept(name)
                if target and target != source:
                    edges.setdefault((source, target), []).append(str(path.relative_to(PACKAGE.parent)))
    return edges


def test_every_concept_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").is_file()))}
    tops = {"wsvol" if t == "__init__" else t for t in tops}
    placed = set().union(*LAYERS)
    assert tops <= placed, f"place these in LAYERS: {sorted(tops - placed)}"


def test_imports_only_go_down():
    layer = {c: i for i, group in enumerate(LAYERS) for c in group}
    upward = [f"{a} (layer {layer[a]}) imports {b} (layer {layer[b]}) in {sorted(set(files))}"
              for (a, b), files in imports().items() if (a, b) not in BY_DESIGN and layer[b] >= layer[a]]
    assert not upward, "\n".join(upward)


def test_no_import_circle_between_concepts():
    graph: dict[str, set[str]] = {}
    for a, b in imports():
        if (a, b) not in BY_DESIGN:
            graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    circles = sorted((a, b) for a, targets in graph.items() for b in targets if reaches(b, a))
    assert not circles, circles
