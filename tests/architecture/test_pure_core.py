"""The core and the engines are pure: importing them loads no I/O, YAML, clock or randomness
module and no adapter, and their sources read no clock and draw no random number.

The import check runs a fresh interpreter (``python -I``: no user site, no environment),
imports the pure packages and lists every module that this loaded, with the chain of imports
that brought each in (``-X importtime``). A module the bare interpreter already holds at
start-up (``python -I -c pass``: on some installs a ``.pth`` file loads ``random`` or
``threading``) cannot be seen this way; the source scan below refuses importing it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = ("core", "acd", "ivr")
# callcenter packages the pure ones may load: their config types, and the words catalogue
# (i18n/catalogue.py: names and checks of the shipped languages, read only when asked)
# that the config checks a user's language against
ALLOWED_PACKAGES = {"core", "acd", "ivr", "config", "i18n"}
IMPORTED = (
    "callcenter.core",
    "callcenter.acd",
    "callcenter.acd.engine",
    "callcenter.ivr",
    "callcenter.ivr.session",
)
FORBIDDEN = {
    # I/O
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "subprocess",
    "threading",
    "sqlalchemy",
    "aiohttp",
    "redis",
    "websockets",
    "vosk",
    "pyttsx3",
    # YAML
    "yaml",
    # randomness
    "random",
    "secrets",
}
# What a pure source may not import either (the clock and the ids above all)
FORBIDDEN_IMPORTS = FORBIDDEN | {"time", "uuid"}


def _core_modules() -> list[str]:
    return [f"callcenter.core.{p.stem}" for p in sorted((ROOT / "callcenter" / "core").glob("*.py"))]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},  # ignored under -I; the code puts ROOT first itself
        check=False,
    )


def _importers(importtime: str) -> dict[str, str]:
    """Who imported each module first, from ``-X importtime``'s tree (children come before
    their parent, one level deeper)."""
    importer: dict[str, str] = {}
    waiting: dict[int, list[str]] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or line.endswith("imported package"):
            continue
        field = line.rsplit("|", 1)[1]
        depth, name = (len(field) - len(field.lstrip()) - 1) // 2, field.strip()
        for child in waiting.pop(depth + 1, []):
            importer[child] = name
        waiting.setdefault(depth, []).append(name)
    return importer


def _chain(module: str, importer: dict[str, str]) -> str:
    chain = [module]
    while chain[-1] in importer and len(chain) < 30:
        chain.append(importer[chain[-1]])
    return " <- ".join(chain)


def _culprit(module: str) -> str | None:
    """What ``module`` counts as when it should not be there: its top-level name or its
    callcenter package; None if it may be loaded."""
    parts = module.split(".")
    if parts[0] in FORBIDDEN:
        return parts[0]
    if parts[0] == "callcenter" and len(parts) > 1 and parts[1] not in ALLOWED_PACKAGES:
        return f"callcenter.{parts[1]}"
    return None


def test_importing_the_core_and_the_engines_loads_no_io_yaml_clock_or_randomness() -> None:
    bare = _run("import sys, json; print(json.dumps(sorted(sys.modules)))")
    assert bare.returncode == 0, bare.stderr[-2000:]
    at_start = set(json.loads(bare.stdout)) & FORBIDDEN
    modules = [*IMPORTED, *_core_modules()]
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "before = set(sys.modules)\n" + "".join(f"import {m}\n" for m in modules) + "import callcenter\n"
        "print(json.dumps({'file': callcenter.__file__,"
        " 'new': [m for m in sys.modules if m not in before]}))\n"
    )
    run = _run(code)
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout)
    assert Path(loaded["file"]).is_relative_to(ROOT), f"imported {loaded['file']}, not this tree"
    importer = _importers(run.stderr)
    culprits: dict[str, str] = {}
    for module in loaded["new"]:  # the culprit's own module names the chain, else its first
        culprit = _culprit(module)
        if culprit is not None and (culprit not in culprits or module == culprit):
            culprits[culprit] = _chain(module, importer)
    report = "\n".join(f"  {name}: {chain}" for name, chain in sorted(culprits.items()))
    note = f" (already loaded at start-up, so not seen here: {sorted(at_start)})" if at_start else ""
    assert not culprits, f"importing {', '.join(IMPORTED)} loaded{note}:\n{report}"


# The source scan -------------------------------------------------------------------------

_CLOCK_READS = {
    "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"},
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "uuid": {"uuid1", "uuid4"},
    "os": {"urandom"},
}
_ANY_ATTRIBUTE = {"random", "secrets"}  # every use of these modules draws randomness
_BARE_NAMES = {"uuid1", "uuid4", "urandom", "perf_counter", "monotonic"}  # ``from x import y``


def _base_name(node: ast.expr) -> str | None:
    """``time`` for ``time.x``, ``datetime`` for ``datetime.datetime.x`` or ``datetime.x``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _problems(source: str, where: str) -> list[str]:
    """Each import of a forbidden module, clock read or draw of randomness in ``source``."""
    found: list[tuple[int, str]] = []
    for line, what in _findings(ast.parse(source, filename=where)):
        found.append((line, f"{where}:{line}: {what}"))
    return [text for _, text in sorted(found)]


def _findings(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    found.append((line, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            names = {a.name for a in node.names}
            if top in FORBIDDEN_IMPORTS or names & _BARE_NAMES:
                found.append((line, f"from {node.module} import {', '.join(sorted(names))}"))
        elif isinstance(node, ast.Attribute):
            base = _base_name(node.value)
            draws = isinstance(node.value, ast.Name) and base in _ANY_ATTRIBUTE
            if draws or (base in _CLOCK_READS and node.attr in _CLOCK_READS[base]):
                found.append((line, f"{base}.{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _BARE_NAMES:
            found.append((line, f"{node.func.id}()"))
    return found


def test_the_pure_sources_read_no_clock_and_draw_no_random_number() -> None:
    files = [p for package in PURE for p in sorted((ROOT / "callcenter" / package).rglob("*.py"))]
    assert len(files) > 20 and any(p.name == "engine.py" for p in files)
    problems = [
        problem
        for path in files
        for problem in _problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not problems, "a clock read or randomness in the pure packages:\n  " + "\n  ".join(problems)


def test_the_source_scan_sees_what_it_is_for() -> None:
    source = (
        "import time\nimport random as r\nfrom uuid import uuid4\nfrom datetime import datetime\n"
        "datetime.now()\ndatetime.datetime.utcnow()\nsecrets.token_hex(8)\nos.urandom(8)\n"
        "uuid4()\nself._secrets.add(1)\nnow + 1.0\n"
    )
    assert _problems(source, "sample.py") == [
        "sample.py:1: import time",
        "sample.py:2: import random",
        "sample.py:3: from uuid import uuid4",
        "sample.py:5: datetime.now",
        "sample.py:6: datetime.utcnow",
        "sample.py:7: secrets.token_hex",
        "sample.py:8: os.urandom",
        "sample.py:9: uuid4()",
    ]
