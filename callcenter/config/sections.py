"""Typed, frozen configuration objects for ``callcenter.yaml``.

Each class documents its YAML keys through its fields; ``docs/configuration.md`` shows
them with an example. Validation of a single value happens in ``__post_init__`` (raising
``ValueError``, which the loader reports with file and line); references between sections
(a queue naming a skill) are checked by the loader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from callcenter.config.crm import CrmConfig
from callcenter.config.recordings import RecordingsConfig
from callcenter.config.speech import SpeechConfig
from callcenter.config.telephony import TelephonyConfig, secret_from
from callcenter.core.client_json import JsonLimits
from callcenter.core.frame_rate import FrameRate
from callcenter.i18n.catalogue import check_language

Strategy = Literal["longest-idle", "least-occupied", "round-robin", "best-skill-match", "random"]
Channel = Literal["voice", "chat", "callback"]  # what callers come in by (an IVR flow's entry)
QueueChannel = Literal["voice", "chat", "callback", "voicemail"]  # what a queue may take
Role = Literal["agent", "supervisor", "admin"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Bounds msgspec checks while reading the file (reported as "expected a number more than 0").
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]

_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _check_name(kind: str, value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(
            f"{kind} name {value!r} must start with a lowercase letter and hold only "
            "lowercase letters, digits, '-' and '_'"
        )


def parse_span(text: str) -> tuple[int, int]:
    """``"07:00-24:00"`` -> (420, 1440) in minutes of the day."""
    m = _SPAN.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not an opening span like '08:00-17:30'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start > 1440 or end > 1440 or start >= end:
        raise ValueError(f"{text!r} is not a valid span: start must be before end, within 00:00-24:00")
    return start, end


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8080
    name: str = "callcenter"
    shutdown_grace_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 0-65535")


class StorageConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``url`` is a SQLAlchemy async URL; relative SQLite paths are relative to the config
    file's folder. Embedded default: a SQLite file beside the config."""

    url: str = "sqlite+aiosqlite:///callcenter.db"
    batch_max: int = 1000
    flush_interval_ms: int = 20
    upgrade_on_start: bool = True
    flush_timeout_s: float = 5.0
    stall_after_s: float = 30.0
    shutdown_flush_s: float = 10.0
    spill_path: str = ""

    def __post_init__(self) -> None:
        if not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                f"storage url {self.url!r} must start with 'sqlite+aiosqlite://' or 'postgresql+asyncpg://'"
            )
        if self.batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        if self.flush_interval_ms < 0:
            raise ValueError("flush_interval_ms must not be negative")
        for name in ("flush_timeout_s", "stall_after_s", "shutdown_flush_s"):
            if not 0 < getattr(self, name) < 86400:
                raise ValueError(f"{name} must be more than 0 and less than a day")

    def spill_file(self) -> Path:
        """Where the log spills what it could not write at shutdown: ``spill_path``, else
        beside the SQLite file (``<db>.unwritten.jsonl``), else in the working folder (the
        config file's folder once loaded), named after the database."""
        if self.spill_path:
            return Path(self.spill_path)
        prefix = "sqlite+aiosqlite:///"
        db = self.url[len(prefix) :] if self.url.startswith(prefix) else ""
        if db and db != ":memory:":
            return Path(db + ".unwritten.jsonl")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.url.rsplit("/", 1)[-1].split("?", 1)[0]) or "memory"
        return Path(f"interaction-log-{name}.unwritten.jsonl")  # one file per database

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class BusConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    kind: Literal["memory", "redis"] = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "callcenter"


class ClusterConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Several nodes sharing queues (docs/cluster.md). Needs ``bus.kind: redis`` and a
    PostgreSQL ``storage.url``; every node names itself (``node_id``; empty: host-port)."""

    enabled: bool = False
    node_id: str = ""
    lease_ttl_s: Annotated[float, msgspec.Meta(ge=0.3)] = 2.0
    snapshot_every_s: float = 2.0
    submit_timeout_s: float = 10.0
    chat_grace_s: Positive = 120.0  # a chat whose socket or node is gone waits this long for its customer

    def __post_init__(self) -> None:
        if self.node_id and not re.match(r"^[A-Za-z0-9_.-]{1,64}$", self.node_id):
            raise ValueError(f"node_id {self.node_id!r} may hold letters, digits, '.', '_', '-'")
        if self.snapshot_every_s <= 0 or self.submit_timeout_s <= 0:
            raise ValueError("snapshot_every_s and submit_timeout_s must be positive")


class HoursConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Opening hours: a timezone, spans per weekday, and closed dates (YYYY-MM-DD).
    A weekday not listed is closed all day; ``always_open: true`` ignores the rest."""

    timezone: str = "UTC"
    always_open: bool = False
    weekly: dict[str, list[str]] = msgspec.field(default_factory=dict)
    closed_dates: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for day, spans in self.weekly.items():
            if day not in WEEKDAYS:
                raise ValueError(f"weekly: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            for span in spans:
                parse_span(span)
        for date in self.closed_dates:
            if not re.match(r"^\d{4}-\d{2}-\d{2}$", date):
                raise ValueError(f"closed date {date!r} is not YYYY-MM-DD")


class SkillConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("skill", self.name)


class RoutingStep(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Agents need at least these skill levels (1-5). ``timeout`` seconds after entering the
    step the contact moves to the next, wider step; the last step has no timeout."""

    require: dict[str, int] = msgspec.field(default_factory=dict)
    timeout: float | None = None

    def __post_init__(self) -> None:
        for skill, level in self.require.items():
            if not 1 <= level <= 5:
                raise ValueError(f"skill level for {skill!r} is {level}; levels run from 1 to 5")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")


OverflowKind = Literal["queue", "callback", "voicemail", "disconnect"]


class OverflowTarget(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    to: OverflowKind
    queue: str | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.to == "queue" and not self.queue:
            raise ValueError("an overflow to 'queue' must name the queue")
        if self.to != "queue" and self.queue:
            raise ValueError(f"'queue' is only for overflow to a queue, not to {self.to!r}")


class OverflowConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    on_full: OverflowTarget | None = None
    on_max_wait: OverflowTarget | None = None
    on_no_agents: OverflowTarget | None = None
    on_closed: OverflowTarget | None = None


class PriorityRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Contacts whose attributes match ``when`` (all keys equal) get a head start in seconds
    and/or a priority class (lower class is served first; default class 1)."""

    when: dict[str, str]
    head_start_s: float = 0.0
    priority_class: int | None = None


class QueueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    description: str = ""
    channels: list[QueueChannel] = msgspec.field(
        default_factory=lambda: ["voice", "chat", "callback", "voicemail"]
    )
    strategy: Strategy = "longest-idle"
    steps: list[RoutingStep] = msgspec.field(default_factory=lambda: [RoutingStep()])
    ring_time_s: Positive = 20.0
    wrap_up_s: NonNegative = 30.0
    max_size: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_wait_s: float | None = None
    service_level_s: float = 20.0
    hours: str | None = None
    priority_rules: list[PriorityRule] = msgspec.field(default_factory=list)
    overflow: OverflowConfig = msgspec.field(default_factory=OverflowConfig)
    announce_interval_s: float = 60.0
    # A callback already accepted into the queue keeps its place when a restart finds the
    # queue closed (it waits for the opening); false sends it on by ``overflow.on_closed``.
    keep_callbacks_when_closed: bool = True

    def __post_init__(self) -> None:
        _check_name("queue", self.name)
        if not self.steps:
            raise ValueError("a queue needs at least one routing step")
        if any(step.timeout is None for step in self.steps[:-1]):
            raise ValueError("every routing step but the last needs a timeout")


class UserConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A user seeded into the database at start. ``password`` is for demos; production
    configs give ``password_hash`` (see ``callcenter user hash-password``)."""

    username: str
    name: str = ""
    role: Role = "agent"
    password: str | None = None
    password_hash: str | None = None
    skills: dict[str, int] = msgspec.field(default_factory=dict)
    chat_capacity: Annotated[int, msgspec.Meta(ge=0)] = 3
    # The desk's or wallboard's language (a shipped catalogue, docs/i18n.md); unset: "en"
    # for a new user, and whatever the user chose for themselves stays.
    language: str | None = None

    def __post_init__(self) -> None:
        if not re.match(r"^[a-zA-Z0-9_.-]{1,64}$", self.username):
            raise ValueError(f"username {self.username!r} may hold letters, digits, '.', '_', '-'")
        if self.language is not None:
            check_language(self.language)
        for skill, level in self.skills.items():
            if not 1 <= level <= 5:
                raise ValueError(f"skill level for {skill!r} is {level}; levels run from 1 to 5")


class DeskConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    not_ready_reasons: list[str] = msgspec.field(
        default_factory=lambda: ["break", "lunch", "meeting", "training"]
    )
    dispositions: list[str] = msgspec.field(default_factory=lambda: ["resolved", "follow-up", "escalated"])
    reconnect_grace_s: float = 30.0
    # voicemails an agent holds at once, beside chats (0: this center's agents take none)
    voicemail_capacity: Annotated[int, msgspec.Meta(ge=0, le=20)] = 1


class ChatConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The web chat (docs/configuration.md). ``resume_after_restart_s``: how long a chat that
    was waiting, ringing or with an agent when the server stopped keeps its place for its
    customer's page to reconnect with the resume token, counted from the first restart."""

    resume_after_restart_s: Positive = 600.0


class WallboardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When a queue tile turns amber (warning) or red (trouble) on the wallboard."""

    warn_waiting: int = 3
    trouble_waiting: int = 8
    warn_longest_wait_s: float = 60.0
    trouble_longest_wait_s: float = 180.0
    trouble_service_level: float = 0.7
    timezone: str = "UTC"


class MetricsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who may scrape ``GET /metrics``: a logged-in supervisor or admin, and a scraper that
    sends ``Authorization: Bearer <token>`` with this token, given in the file (``token``)
    or by the name of an environment variable (``token_env``). Neither: sessions only."""

    token: str = ""
    token_env: str = ""

    def __post_init__(self) -> None:
        if self.token or self.token_env:
            secret_from("metrics token", self.token, self.token_env)

    def token_value(self) -> str:
        """The token ("" when none is configured)."""
        if not (self.token or self.token_env):
            return ""
        return secret_from("metrics token", self.token, self.token_env)


class LimitsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What one client may send (docs/configuration.md, ``limits``): sizes of JSON bodies
    and WebSocket frames, nesting depth, string length, and frames per second per
    WebSocket connection. Every JSON body and frame is read by ``core.client_json``."""

    body_max_bytes: int = 16 * 1024
    sdp_body_max_bytes: int = 64 * 1024
    frame_max_bytes: int = 64 * 1024
    chat_frame_max_bytes: int = 16 * 1024
    max_depth: int = 32
    max_string_chars: int = 32 * 1024
    frames_per_s: float = 20.0
    frames_burst: int = 40
    media_frames_per_s: float = 100.0
    media_frames_burst: int = 200
    flood_drops: int = 200

    def __post_init__(self) -> None:
        for name in (
            "body_max_bytes",
            "sdp_body_max_bytes",
            "frame_max_bytes",
            "chat_frame_max_bytes",
            "max_string_chars",
        ):
            if not 256 <= getattr(self, name) <= 16 * 1024 * 1024:
                raise ValueError(f"{name} must be from 256 to 16777216 (bytes or characters)")
        if not 2 <= self.max_depth <= 200:  # decoding recurses this deep: keep it far from Python's limit
            raise ValueError("max_depth must be from 2 to 200")
        for rate, burst in (("frames_per_s", "frames_burst"), ("media_frames_per_s", "media_frames_burst")):
            if getattr(self, rate) <= 0:
                raise ValueError(f"{rate} must be positive")
            if getattr(self, burst) < 1:
                raise ValueError(f"{burst} must be at least 1")
        if self.flood_drops < 1:
            raise ValueError("flood_drops must be at least 1")

    def json(self, max_bytes: int) -> JsonLimits:
        """The decoder's limits for a document of at most ``max_bytes``."""
        return JsonLimits(max_bytes=max_bytes, max_depth=self.max_depth, max_string=self.max_string_chars)

    def frame_rate(self, *, media: bool = False) -> FrameRate:
        """A fresh budget for one WebSocket connection (``media``: a media stream's)."""
        if media:
            return FrameRate(self.media_frames_per_s, self.media_frames_burst, self.flood_drops)
        return FrameRate(self.frames_per_s, self.frames_burst, self.flood_drops)


class CenterConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole of ``callcenter.yaml``."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    bus: BusConfig = msgspec.field(default_factory=BusConfig)
    cluster: ClusterConfig = msgspec.field(default_factory=ClusterConfig)
    hours: dict[str, HoursConfig] = msgspec.field(default_factory=dict)
    skills: list[SkillConfig] = msgspec.field(default_factory=list)
    queues: list[QueueConfig] = msgspec.field(default_factory=list)
    users: list[UserConfig] = msgspec.field(default_factory=list)
    desk: DeskConfig = msgspec.field(default_factory=DeskConfig)
    chat: ChatConfig = msgspec.field(default_factory=ChatConfig)
    wallboard: WallboardConfig = msgspec.field(default_factory=WallboardConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    speech: SpeechConfig = msgspec.field(default_factory=SpeechConfig)
    telephony: TelephonyConfig = msgspec.field(default_factory=lambda: TelephonyConfig(enabled=False))
    crm: CrmConfig = msgspec.field(default_factory=CrmConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    ivr_dir: str = "ivr"
    recordings: RecordingsConfig = msgspec.field(default_factory=RecordingsConfig)

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)
