"""Per-rule conda environments, proven without conda (none on these machines):
every env file is a well-formed conda spec, and the env of every step holds
each third-party package its function imports (through the library)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker

from ..conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
CONDA_SPEC = re.compile(r"^[A-Za-z0-9_.\-]+([<>=!]=?[A-Za-z0-9_.*\-]+)?$")
PIP_SPEC = re.compile(r"^[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+$")


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_file_is_a_conda_spec(env):
    spec = yaml.safe_load(env.read_text())
    assert isinstance(spec, dict) and set(spec) <= {"name", "channels", "dependencies"}, env.name
    assert all(isinstance(c, str) for c in spec.get("channels", [])) and "conda-forge" in spec["channels"]
    deps = spec["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pips = [d["pip"] for d in deps if isinstance(d, dict)]
    assert all(CONDA_SPEC.match(d) for d in conda), conda
    assert any(d.startswith("python=") for d in conda) and "pip" in conda
    assert len(pips) == 1 and all(isinstance(d, dict) and set(d) == {"pip"} for d in deps if not isinstance(d, str))
    for line in pips[0]:
        spec_, _, marker = line.partition(";")  # an environment marker may follow (pyosys where it has wheels)
        assert line.startswith("--") or PIP_SPEC.match(spec_.strip()), f"{env.name}: {line!r} is not NAME==VERSION"
        if marker:
            Marker(marker)  # raises on a malformed marker


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(path: Path, package_root: Path, seen: set[Path], function: str | None = None) -> set[str]:
    """Top-level third-party modules that ``path`` imports, following the
    colliderflow modules it imports. Imports guarded by ``except ImportError``
    are optional and skipped. With ``function``: the module-level imports
    and those inside that function only (a step function and what it uses)."""
    if path in seen or not path.exists():
        return set()
    seen.add(path)
    tree = ast.parse(path.read_text())
    if function is not None:
        body = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                or getattr(n, "name", None) == function]
        tree = ast.Module(body=body, type_ignores=[])
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            optional |= {id(n) for b in node.body for n in ast.walk(b)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside colliderflow
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                rel = ".".join(base.relative_to(package_root.parent).parts)
                mods = [f"{rel}.{node.module}" if node.module else rel]
            else:
                mods = [node.module]
            mods += [f"{mods[0]}.{a.name}" for a in node.names]  # `from pkg import submodule`
        for m in mods:
            top = m.split(".")[0]
            if top == "colliderflow":
                sub = package_root.parent.joinpath(*m.split("."))
                for f in (sub.with_suffix(".py"), sub / "__init__.py"):
                    out |= _imports(f, package_root, seen)
            elif top not in sys.stdlib_module_names and top != "__future__":
                out.add(top)
    return out


def _steps():
    """(rule, the file of its step function, the function, its env file) for every step."""
    from colliderflow.study import load, study_names

    for name in ("data", "shared", *study_names()):
        spec = load(name)
        module = spec.directory / "steps.py"
        for step in spec.steps:
            yield spec.rule_name(step.name), module, step.name, f"envs/{step.env}.yaml"


def test_every_steps_env_holds_what_its_function_imports():
    dists = {m: {_norm(d) for d in ds} for m, ds in importlib.metadata.packages_distributions().items()}
    package_root = REPO / "src" / "colliderflow"
    steps = list(_steps())
    assert steps
    for rule, module, function, env in steps:
        spec = yaml.safe_load((REPO / env).read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        have = {_norm(p.split("==")[0]) for p in pip if not p.startswith("-")}
        for mod in sorted(_imports(module, package_root, set(), function)):
            need = dists.get(mod)
            assert need, f"rule {rule}: {function} imports {mod!r}, which no installed package provides"
            assert need & have, f"rule {rule} ({env}): {function} imports {mod!r} from {sorted(need)}, not in the env"
