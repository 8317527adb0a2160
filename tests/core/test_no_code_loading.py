"""No code is ever loaded from data: the package and the simulator neither import pickle,
marshal or shelve nor call the ``exec``, ``eval`` or ``compile`` builtins. What crosses a
process or a network (the cluster's Redis included) is typed data (msgspec), so whoever can
write it can send a wrong value, never code. ruff holds the calls too (S102, S301, S307)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}
BUILTINS = {"exec", "eval", "compile"}


def offences(path: Path, root: Path = ROOT) -> list[str]:
    where = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=where)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILTINS:
            found.append(f"{where}:{node.lineno}: calls {node.func.id}()")
            continue
        else:
            continue
        found += [f"{where}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in LOADERS]
    return found


def sources() -> list[Path]:
    paths = [p for top in ("callcenter", "simulator") for p in sorted((ROOT / top).rglob("*.py"))]
    return list(paths)


def test_no_source_imports_a_code_loader_or_calls_exec_eval_or_compile() -> None:
    files = sources()
    assert len(files) > 100 and any(p.parts[-3:] == ("runtime", "cluster", "wire.py") for p in files)
    assert [o for p in files for o in offences(p)] == []


def test_the_check_sees_each_kind_of_offence(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle\nfrom marshal import loads\nimport shelve as s\n"
        "exec('1')\neval('1')\ncompile('1', 'x', 'eval')\nimport re\nre.compile('x')\n",
        encoding="utf-8",
    )
    assert offences(sample, tmp_path) == [
        "sample.py:1: imports pickle",
        "sample.py:2: imports marshal",
        "sample.py:3: imports shelve",
        "sample.py:4: calls exec()",
        "sample.py:5: calls eval()",
        "sample.py:6: calls compile()",
    ]
