"""Imports run one way: each top folder is one stage of the flow, and a stage never reaches up.

Read with `ast` from the source (no import is executed): every `import x`, `from x import y`,
relative import and `importlib.import_module("x")` of every module in our packages (the ones
pyproject.toml packages). A failure names the module, the line, what it imports and the rule.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def our_packages(root: Path = ROOT) -> set[str]:
    """The top-level packages that pyproject.toml ships."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    return {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}


PACKAGES = our_packages()


@dataclass(frozen=True)
class Rule:
    package: str
    forbidden: frozenset[str]
    why: str


RULES = (
    Rule("events", frozenset(PACKAGES - {"events"}), "events/ is the contract: it imports nothing of ours"),
    Rule("models", frozenset(PACKAGES - {"models"}), "models/ is pure learning: it imports no other package of ours"),
    Rule("infra", frozenset({"models", "readmodels", "consumers", "api", "producers", "shopstream"}),
         "infra/ is plumbing: no models, read models, consumers, API or producers"),
    Rule("producers", frozenset({"readmodels", "consumers", "api", "shopstream"}),
         "producers/ write to Kafka: they know nothing of the read side"),
    Rule("readmodels", frozenset({"consumers", "api", "producers", "shopstream"}),
         "readmodels/ are written by consumers and read by the API: they import neither, nor producers"),
    Rule("consumers", frozenset({"api", "producers", "shopstream"}), "consumers/ import no API and no producers"),
    Rule("api", frozenset({"producers", "shopstream"}), "the API never imports producers"),
)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    imported: str
    rule: Rule

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported} -- {self.rule.why}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the file at ``path``."""
    module = module_name(root, path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            if node.module:
                yield node.lineno, ".".join([*base, node.module])
            else:  # from . import a, b: each is a module of the package
                for alias in node.names:
                    yield node.lineno, ".".join([*base, alias.name])
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and "import_module" in (
                  getattr(node.func, "attr", None), getattr(node.func, "id", None))):
            yield node.lineno, node.args[0].value


def modules(root: Path, package: str) -> list[Path]:
    return sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def violations(root: Path = ROOT, rules: tuple[Rule, ...] = RULES) -> list[Violation]:
    out = []
    for rule in rules:
        for path in modules(root, rule.package):
            for line, imported in imports(root, path):
                top = imported.split(".")[0]
                if top in rule.forbidden:
                    out.append(Violation(str(path.relative_to(root)), line, module_name(root, path), imported, rule))
    return out


def test_imports_run_one_way() -> None:
    found = violations()
    assert not found, "imports against the flow:\n" + "\n".join(str(v) for v in found)


def test_every_rule_looks_at_real_code() -> None:
    """A renamed folder must not turn a rule into one that checks nothing."""
    assert {r.package for r in RULES} <= PACKAGES
    for rule in RULES:
        paths = modules(ROOT, rule.package)
        assert len(paths) >= 3, rule.package
        assert any(True for p in paths for _ in imports(ROOT, p)), rule.package
    # and the scanner sees the imports the flow is made of
    seen = {(r.package, i.split(".")[0]) for r in RULES for p in modules(ROOT, r.package) for _, i in imports(ROOT, p)}
    assert {("consumers", "readmodels"), ("api", "readmodels"), ("readmodels", "models"), ("infra", "events")} <= seen


def test_a_module_against_the_flow_is_named_with_its_rule(tmp_path: Path) -> None:
    files = {
        "events/__init__.py": "",
        "events/codec.py": "import json\nfrom infra.config import Settings\n",
        "models/__init__.py": "",
        "models/reco/__init__.py": "from . import online\n",
        "models/reco/online.py": "from ...readmodels import errors\nfrom .base import x\n",
        "api/__init__.py": "",
        "api/routes.py": "import importlib\n\ndef f():\n    return importlib.import_module('producers.publish')\n",
        "infra/__init__.py": "",
        "infra/lag.py": "import typing\nif typing.TYPE_CHECKING:\n    from consumers.runtime import ConsumerLoop\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    rules = tuple(r for r in RULES if r.package in ("events", "models", "api", "infra"))
    found = sorted(str(v) for v in violations(tmp_path, rules))
    assert found == [
        "api/routes.py:4: api.routes imports producers.publish -- the API never imports producers",
        "events/codec.py:2: events.codec imports infra.config -- events/ is the contract: it imports nothing of ours",
        "infra/lag.py:3: infra.lag imports consumers.runtime -- infra/ is plumbing: no models, read models, "
        "consumers, API or producers",
        "models/reco/online.py:1: models.reco.online imports readmodels -- models/ is pure learning: "
        "it imports no other package of ours",
    ]


@pytest.mark.parametrize(("name", "source", "expected"), [
    ("pkg/mod.py", "from . import a", "pkg.a"),
    ("pkg/mod.py", "from .a import b", "pkg.a"),
    ("pkg/sub/mod.py", "from .. import a", "pkg.a"),
    ("pkg/sub/__init__.py", "from . import a", "pkg.sub.a"),
    ("pkg/sub/__init__.py", "from ..x import a", "pkg.x"),
])
def test_relative_imports_resolve(tmp_path: Path, name: str, source: str, expected: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert [m for _, m in imports(tmp_path, path)] == [expected]
