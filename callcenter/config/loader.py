"""Read ``callcenter.yaml``, build the typed config and check references between sections.

Every problem found is reported (file:line: field: message), not only the first.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from msgspec.structs import replace

from callcenter.config.sections import CenterConfig, QueueConfig
from callcenter.config.speech import KOREAN_DEMO_MODEL
from callcenter.config.yamlnodes import Problems, Reader, read_document

DEFAULT_CONFIG_PATH = Path("config/callcenter.yaml")


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> CenterConfig:
    """Load and check a config file; raise ``ConfigError`` listing every problem."""
    config, problems = check_config(path)
    problems.raise_if_any()
    assert config is not None
    return config


def check_config(path: Path | str) -> tuple[CenterConfig | None, Problems]:
    """Load a config file and return it (or ``None``) with every problem found."""
    path = Path(path)
    problems = Problems()
    reader = Reader(read_document(path), problems)
    if reader.value is None:
        problems.add(reader.file, 1, "", "file is empty")
        return None, problems
    config, partial = reader.convert_struct(reader.value, CenterConfig, "")
    if partial is not None:
        _check_references(partial, reader)
    if config is None or problems:
        return None, problems
    return _resolve_paths(config, path.parent), problems


def _resolve_paths(config: CenterConfig, base: Path) -> CenterConfig:
    """Relative SQLite paths and folders (IVR flows, speech model and prompt cache,
    recordings) are relative to the config file."""
    storage = config.storage
    prefix = "sqlite+aiosqlite:///"
    if storage.url.startswith(prefix):
        db_path = storage.url[len(prefix) :]
        if db_path and db_path != ":memory:" and not Path(db_path).is_absolute():
            storage = replace(storage, url=prefix + str((base / db_path).resolve()))

    def here(folder: str) -> str:
        return folder if Path(folder).is_absolute() else str((base / folder).resolve())

    if storage.spill_path or not storage.url.startswith(prefix):  # a PostgreSQL log spills here
        storage = replace(storage, spill_path=here(str(storage.spill_file())))

    speech = config.speech
    model_path = speech.model_path
    if model_path is not None and model_path != KOREAN_DEMO_MODEL:
        model_path = here(model_path)
    speech = replace(speech, model_path=model_path, cache_dir=here(speech.cache_dir))
    telephony = replace(config.telephony, recordings_dir=here(config.telephony.recordings_dir))
    return replace(config, storage=storage, ivr_dir=here(config.ivr_dir), speech=speech, telephony=telephony)


def _duplicates(names: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dups: set[str] = set()
    for name in names:
        (dups if name in seen else seen).add(name)
    return dups


def _written_names(b: Reader, key: str) -> set[str]:
    """Names written under ``key`` (a list of mappings), also of items that had a problem
    of their own, so that references to them are not reported as well."""
    items = b.value.get(key) if isinstance(b.value, dict) else None
    if not isinstance(items, list):
        return set()
    return {item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)}


def _check_references(config: CenterConfig, b: Reader) -> None:
    skills = {s.name for s in config.skills} | _written_names(b, "skills")
    queues = {q.name for q in config.queues} | _written_names(b, "queues")

    for kind, names, key in (
        ("skill", [s.name for s in config.skills], "skills"),
        ("queue", [q.name for q in config.queues], "queues"),
        ("user", [u.username for u in config.users], "users"),
    ):
        for dup in sorted(_duplicates(names)):
            index = names.index(dup, names.index(dup) + 1)
            where = b.item(key, index)
            b.problems.add(b.file, b.line(where), where, f"{kind} {dup!r} is defined twice")

    for name, hours in config.hours.items():
        where = f"hours.{name}.timezone"
        try:
            ZoneInfo(hours.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            b.problems.add(
                b.file, b.line(where, b.line(f"hours.{name}")), where, f"unknown timezone {hours.timezone!r}"
            )

    _check_cluster(config, b)
    _check_extras(config, b)
    for qi, queue in enumerate(config.queues):
        _check_queue(config, queue, b.item("queues", qi), skills, queues, b)

    for ui, user in enumerate(config.users):
        for skill in user.skills:
            where = f"{b.item('users', ui)}.skills.{skill}"
            if skill not in skills:
                b.problems.add(b.file, b.line(where), where, f"unknown skill {skill!r}{_known(skills)}")

    for ri, rule in enumerate(config.crm.route_rules):  # CRM rules send contacts to queues
        targets = [("queue", rule.queue)] + [(f"from_queues[{i}]", q) for i, q in enumerate(rule.from_queues)]
        for key, name in targets:
            where = f"crm.route_rules[{ri}].{key}"
            if name not in queues:
                b.problems.add(b.file, b.line(where), where, f"unknown queue {name!r}{_known(queues)}")


def _check_cluster(config: CenterConfig, b: Reader) -> None:
    if not config.cluster.enabled:
        return
    where = "cluster.enabled"
    if config.bus.kind != "redis":
        b.problems.add(
            b.file,
            b.line("bus.kind", b.line(where)),
            "bus.kind",
            "cluster mode needs the Redis bus (bus.kind: redis)",
        )
    if config.storage.is_sqlite:
        b.problems.add(
            b.file,
            b.line("storage.url", b.line(where)),
            "storage.url",
            "cluster mode needs a PostgreSQL storage url shared by every node",
        )


# What each optional part needs, and the extra that installs it (pyproject.toml).
CLUSTER_EXTRA = "pip install 'callcenter[cluster]' (in a checkout: pip install -e '.[cluster]')"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _check_extras(config: CenterConfig, b: Reader) -> None:
    """A configuration that names an optional part says which install line it needs; the
    embedded defaults (SQLite, memory bus) need none."""
    if config.storage.url.startswith("postgresql") and not _installed("asyncpg"):
        b.problems.add(
            b.file,
            b.line("storage.url"),
            "storage.url",
            f"PostgreSQL needs the asyncpg driver, which is not installed: {CLUSTER_EXTRA}",
        )
    if config.bus.kind == "redis" and not _installed("redis"):
        b.problems.add(
            b.file,
            b.line("bus.kind"),
            "bus.kind",
            f"the Redis bus needs the redis package, which is not installed: {CLUSTER_EXTRA}",
        )


def _check_queue(
    config: CenterConfig, queue: QueueConfig, where: str, skills: set[str], queues: set[str], b: Reader
) -> None:
    for si, step in enumerate(queue.steps):
        for skill in step.require:
            here = f"{where}.steps[{si}].require.{skill}"
            if skill not in skills:
                b.problems.add(b.file, b.line(here), here, f"unknown skill {skill!r}{_known(skills)}")
    if queue.hours is not None and queue.hours not in config.hours:
        here = f"{where}.hours"
        b.problems.add(
            b.file, b.line(here), here, f"unknown hours {queue.hours!r}{_known(set(config.hours))}"
        )
    for reason in ("on_full", "on_max_wait", "on_no_agents", "on_closed"):
        target = getattr(queue.overflow, reason)
        here = f"{where}.overflow.{reason}.queue"
        if target is None or target.to != "queue":
            continue
        if target.queue not in queues:
            b.problems.add(b.file, b.line(here), here, f"unknown queue {target.queue!r}{_known(queues)}")
        elif target.queue == queue.name:
            b.problems.add(b.file, b.line(here), here, "a queue cannot overflow into itself")
    if queue.overflow.on_closed is not None and queue.hours is None:
        here = f"{where}.overflow.on_closed"
        b.problems.add(b.file, b.line(here), here, "on_closed needs the queue to name its 'hours'")


def _known(names: set[str]) -> str:
    return f" (known: {', '.join(sorted(names))})" if names else " (none are defined)"
