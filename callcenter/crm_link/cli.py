"""``callcenter crm seed | import | refresh``. The main CLI hooks these in with two lines::

    crm_cli.add_cli(sub)                      # in _parser(), with the other subcommands
    if args.command == "crm": return crm_cli.run_cli(args, ids=RandomIds(...))

Each subcommand takes ``--config`` like the others and uses the configured database,
which must be at the current schema (on SQLite with ``upgrade_on_start`` it is upgraded).
The caller hands in the ids new customers get (``runtime/ids.py``'s ``RandomIds`` in the
main CLI): an adapter mints none of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.config.crm import CrmConfig
from callcenter.config.loader import DEFAULT_CONFIG_PATH, load_config
from callcenter.config.sections import CenterConfig
from callcenter.core.errors import CallcenterError, ConfigError
from callcenter.core.ids import IdGenerator
from callcenter.crm_link.csv_import import import_csv
from callcenter.crm_link.scores import refresh_scores
from callcenter.crm_link.seed import DEFAULT_UNTIL, seed


def add_cli(subparsers: Any) -> None:
    """Add ``crm`` and its subcommands to the main parser's subparsers."""
    crm = subparsers.add_parser("crm", help="customer data: seed, import, refresh scores")
    sub = crm.add_subparsers(dest="crm_command", required=True)
    seeder = sub.add_parser("seed", help="create deterministic synthetic customers, orders and tickets")
    seeder.add_argument("--customers", type=int, required=True, help="how many customers")
    seeder.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    seeder.add_argument("--first", type=int, default=1, help="number of the first customer (default 1)")
    seeder.add_argument(
        "--until",
        type=date.fromisoformat,
        default=DEFAULT_UNTIL,
        help=f"day the generated history ends (default {DEFAULT_UNTIL})",
    )
    seeder.add_argument("--no-history", action="store_true", help="customers and numbers only")
    importer = sub.add_parser("import", help="load customers from a CSV file (see docs/crm.md)")
    importer.add_argument("file", type=Path)
    sub.add_parser("refresh", help="recompute every customer's scores (run nightly)")
    for p in (seeder, importer, *sub.choices.values()):
        if not any(a.dest == "config" for a in p._actions):
            p.add_argument(
                "--config",
                type=Path,
                default=DEFAULT_CONFIG_PATH,
                help=f"configuration file (default: {DEFAULT_CONFIG_PATH})",
            )


def run_cli(args: argparse.Namespace, *, ids: IdGenerator) -> int:
    """Run the ``crm`` subcommand in ``args``, naming imported customers with ``ids``; the
    exit status (0 ok, 1 failed, 2 some rows bad)."""
    try:
        config = load_config(args.config)
        return asyncio.run(_run(config, args, ids))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except (CallcenterError, OSError, ValueError) as exc:
        print(f"callcenter crm: {exc}", file=sys.stderr)
        return 1


def crm_config(config: CenterConfig) -> CrmConfig:
    found = getattr(config, "crm", None)
    return found if isinstance(found, CrmConfig) else CrmConfig()


async def _run(config: CenterConfig, args: argparse.Namespace, ids: IdGenerator) -> int:
    from callcenter.storage import database, migrate

    engine = await database.open_checked(config.storage.url)
    try:
        if config.storage.is_sqlite and config.storage.upgrade_on_start:
            await migrate.upgrade(engine)
        elif await migrate.current_revision(engine) != migrate.head_revision():
            print(
                "callcenter crm: the database schema is out of date: run `callcenter db upgrade`",
                file=sys.stderr,
            )
            return 1
        return await _command(engine, crm_config(config), args, ids)
    finally:
        await engine.dispose()


async def _command(engine: AsyncEngine, crm: CrmConfig, args: argparse.Namespace, ids: IdGenerator) -> int:
    started = time.perf_counter()
    if args.crm_command == "seed":
        stats = await seed(
            engine,
            args.customers,
            args.seed,
            first=args.first,
            until=args.until,
            country_code=crm.default_country_code,
            history=not args.no_history,
        )
        print(
            f"seeded {stats.customers} customers, {stats.phones} phones, {stats.emails} e-mails, "
            f"{stats.orders} orders, {stats.tickets} tickets in {time.perf_counter() - started:.1f} s"
        )
        return 0
    if args.crm_command == "import":
        now = time.time()
        report = await import_csv(
            engine,
            args.file,
            country_code=crm.default_country_code,
            now=now,
            ids=ids,
        )
        for error in report.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        print(f"{args.file}: imported {report.imported} of {report.rows} rows, {len(report.errors)} error(s)")
        return 0 if not report.errors else 2
    now = datetime.now(UTC).timestamp()
    result = await refresh_scores(engine, now)
    print(
        f"scored {result.customers} customers ({result.with_orders} with orders) in "
        f"{time.perf_counter() - started:.1f} s; pyramid {result.pyramid}; segments {result.segments}"
    )
    return 0
