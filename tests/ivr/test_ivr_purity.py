"""The IVR package stays sans-I/O: no event loop, network, clock or randomness imports."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "redis",
    "sqlalchemy",
    "vosk",
    "pyttsx3",
    "time",
    "random",
    "uuid",
    "websockets",
    "secrets",
    "socket",
    "datetime",
}
PACKAGE = Path(__file__).resolve().parents[2] / "callcenter" / "ivr"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_ivr_package_imports_io_clocks_or_randomness() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 5
    found = {f.name: sorted(imported(f) & FORBIDDEN) for f in files}
    assert {name: bad for name, bad in found.items() if bad} == {}
