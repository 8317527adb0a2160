"""The ``callcenter`` command: serve, check-config, db."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from msgspec.structs import replace

from callcenter import __version__
from callcenter.config.loader import DEFAULT_CONFIG_PATH, check_config, load_config
from callcenter.config.sections import CenterConfig
from callcenter.core.errors import CallcenterError, ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description="A contact-center server.")
    parser.add_argument("--version", action="version", version=f"callcenter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the server")
    _config_arg(serve)
    serve.add_argument("--host", help="address to listen on (default: server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (default: server.port)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    check = sub.add_parser("check-config", help="validate the configuration and list every problem")
    _config_arg(check)

    user = sub.add_parser("user", help="users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    user_sub.add_parser(
        "hash-password",
        help="hash a password for `password_hash` in the config "
        "(asked twice on a terminal, else one line from standard input)",
    )

    prompts = sub.add_parser("prompts", help="IVR prompts (TTS)")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    _config_arg(
        prompts_sub.add_parser(
            "build",
            help="render every static prompt of the flows into "
            "the prompt cache ahead (prints rendered/cached and the time)",
        )
    )

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    for name, text in (
        ("upgrade", "upgrade the schema to this version"),
        ("current", "print the schema revision in place"),
    ):
        _config_arg(db_sub.add_parser(name, help=text))
    return parser


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG_PATH,
        help=f"configuration file (default: {DEFAULT_CONFIG_PATH})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "user":
            from callcenter.auth.cli import hash_password_command

            return hash_password_command()
        if args.command == "check-config":
            return cmd_check_config(args.config)
        config = load_config(args.config)
        if args.command == "serve":
            return cmd_serve(config, args)
        if args.command == "db":
            return asyncio.run(cmd_db(config, args.db_command))
        if args.command == "prompts":
            return prompts_build_command(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"callcenter: {len(exc.problems)} problem(s) in the configuration", file=sys.stderr)
        return 1
    except CallcenterError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def cmd_check_config(path: Path) -> int:
    try:
        config, problems = check_config(path)
    except ConfigError as exc:
        problems_list = exc.problems
    else:
        for warning in problems.warnings:
            print(warning, file=sys.stderr)
        problems_list = problems.items
        if config is not None and not problems_list:
            flows, problems_list = _check_flows(config)
        if config is not None and not problems_list:
            print(
                f"{path}: ok: {len(config.queues)} queues, {len(config.skills)} skills, "
                f"{len(config.users)} users, {flows}"
            )
            return 0
    for problem in problems_list:
        print(problem, file=sys.stderr)
    print(f"{path}: {len(problems_list)} problem(s)", file=sys.stderr)
    return 1


def _check_flows(config: CenterConfig) -> tuple[str, list[str]]:
    """The IVR flows of ``ivr_dir`` checked against the config: (summary, problems)."""
    from callcenter.ivr.loader import load_center_flows

    if not Path(config.ivr_dir).is_dir():
        return f"no IVR flows ({config.ivr_dir} not found)", []
    try:
        flows = load_center_flows(config)
    except ConfigError as exc:
        return "", list(exc.problems)
    for warning in flows.warnings:
        print(warning, file=sys.stderr)
    return f"{len(flows)} IVR flows", []


def cmd_serve(config: CenterConfig, args: argparse.Namespace) -> int:
    from aiohttp import web

    from callcenter.app import create_app

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = replace(
        config.server,
        host=args.host or config.server.host,
        port=args.port if args.port is not None else config.server.port,
    )
    config = replace(config, server=server)
    print(
        f"callcenter {__version__}: serving {config.server.name} on http://{server.host}:{server.port}/",
        flush=True,
    )
    app = create_app(config)
    app.on_startup.append(_freeze_startup_objects)
    try:
        web.run_app(
            app,
            host=server.host,
            port=server.port,
            print=None,
            shutdown_timeout=server.shutdown_grace_s,
            access_log=None,
        )
    except OSError as exc:
        print(f"callcenter: cannot listen on {server.host}:{server.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


async def _freeze_startup_objects(app: object) -> None:
    """What start-up built (config, flows, CRM seed, models) lives as long as the server:
    moving it out of the collector's reach keeps full collections from stalling the loop
    for tenths of a second (seen as offer-delivery outliers in bench/desk_bench.py)."""
    gc.collect()
    gc.freeze()


async def cmd_db(config: CenterConfig, action: str) -> int:
    from callcenter.storage import database, migrate

    engine = await database.open_checked(config.storage.url)
    try:
        if action == "upgrade":
            revision = await migrate.upgrade(engine)
            print(f"{database.describe(config.storage.url)}: schema at {revision}")
        else:
            current = await migrate.current_revision(engine)
            print(
                f"{database.describe(config.storage.url)}: schema at {current or 'none'}"
                f" (this version needs {migrate.head_revision()})"
            )
    finally:
        await engine.dispose()
    return 0


def prompts_build_command(config: CenterConfig) -> int:
    """``callcenter prompts build``: print what was rendered; exit 1 if any prompt failed."""
    from callcenter.ivr.loader import load_center_flows
    from callcenter.speech.flow_prompts import build_flow_prompts, prompt_batches
    from callcenter.speech.prompts import PromptBuildStats
    from callcenter.speech.pyttsx3_renderer import Pyttsx3Renderer

    flows = load_center_flows(config)  # ConfigError: the CLI prints every problem
    speech = config.speech
    batches = list(prompt_batches(flows, config))

    async def run() -> list[tuple[str | None, PromptBuildStats]]:
        renderer = Pyttsx3Renderer(speech.cache_dir, voice=speech.tts_voice, rate=speech.tts_rate)
        try:
            return await build_flow_prompts(batches, renderer)
        finally:
            await renderer.close()

    results = asyncio.run(run())
    failed = 0
    for voice, stats in results:
        print(
            f"voice {voice or 'default'}: {stats.total} prompts, {stats.rendered} rendered, "
            f"{stats.already_cached} already cached, {len(stats.failed)} failed, {stats.seconds:.1f} s"
        )
        for text, error in stats.failed:
            print(f"  failed: {text!r}: {error}", file=sys.stderr)
        failed += len(stats.failed)
    total = sum(s.total for _, s in results)
    rendered = sum(s.rendered for _, s in results)
    seconds = sum(s.seconds for _, s in results)
    print(
        f"{len(flows)} flows: {total} static prompts, {rendered} rendered, {total - rendered - failed} "
        f"already cached, {failed} failed in {seconds:.1f} s; cache: {speech.cache_dir}"
    )
    return 1 if failed else 0
