"""The runtime (ppdsl/runtime/) is standard-library Python pasted into every
compiled module: the pasted text imports only the standard library, and each
part also works as an ordinary module."""

from __future__ import annotations

import ast
import importlib
import sys

import pytest

from ppdsl import runtime
from ppdsl.codegen.python import runtime_source


def imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or "").split(".")[0])
    return names


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is new in 3.10")
def test_the_pasted_runtime_imports_only_the_standard_library():
    names = imported(ast.parse(runtime_source()))
    assert names and names <= set(sys.stdlib_module_names), names


@pytest.mark.parametrize("part", runtime.PARTS)
def test_each_part_is_an_importable_module_with_one_marker(part: str):
    module = importlib.import_module(f"ppdsl.runtime.{part}")
    text = open(module.__file__, encoding="utf-8").read()
    assert text.count(runtime.MARKER) == 1
    assert not any(name.startswith(".") for name in imported(ast.parse(text.split(runtime.MARKER)[1])))
