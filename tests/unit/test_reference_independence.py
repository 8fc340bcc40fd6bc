"""The reference stays independent: it imports nothing of the pipeline it checks."""

import ast

from common.settings import REPO_ROOT

PIPELINE = {"bench", "common", "devstack", "producer", "streaming", "tests", "webapp"}


def test_the_reference_imports_nothing_of_the_pipeline():
    imported = set()
    for path in (REPO_ROOT / "reference").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported, "no import read: the test would prove nothing"
    assert not imported & PIPELINE, imported & PIPELINE
