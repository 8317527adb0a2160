#!/usr/bin/env bash
# What the project claims of its code, checked: ruff's lint rules and formatting, mypy strict
# over the packages (pyproject.toml), and over the tests and benchmarks (strict there too);
# the import contracts of .importlinter (the floors of docs/architecture.md).
# Usage: bash scripts/lint.sh   (after `bash scripts/test.sh` or `pip install -e '.[dev,cluster]'`)
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
ruff format --check .
mypy
MYPYPATH=tests/support mypy --explicit-package-bases tests bench
lint-imports --no-cache
