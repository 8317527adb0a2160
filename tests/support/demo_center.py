"""The demo configuration as tests use it: the same queues, users and flows as
``config/callcenter.yaml``, but hours a test chooses (not the real time of day) and
telephony on free loopback ports (never the demo's 5060, 9092 or 20000-20999, so the suite
runs beside a demo server).

``hours="open"`` opens every calendar at every hour (what most tests need: a queue that
takes contacts); ``"closed"`` closes them all; ``"as configured"`` keeps the demo's
calendars, and the test then gives the center a clock at the instant it needs.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from msgspec.structs import replace

from callcenter.config.loader import load_config
from callcenter.config.sections import CenterConfig, HoursConfig

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "callcenter.yaml"
DEMO_PORTS = {"http": 8080, "sip": 5060, "audiosocket": 9092}  # the demo server's, never a test's
Hours = Literal["open", "closed", "as configured"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loopback_telephony() -> dict[str, Any]:
    """Telephony settings on ports of the test's own: SIP and AudioSocket pick free ports,
    RTP takes 60 ports above a free one (the kernel's ephemeral range, far from 20000)."""
    base = free_port()
    return {
        "sip_host": "127.0.0.1",
        "sip_port": 0,
        "audiosocket_host": "127.0.0.1",
        "audiosocket_port": 0,
        "rtp_port_min": base,
        "rtp_port_max": base + 60,
    }


def demo_carrier() -> tuple[str, str]:
    """The demo's carrier (``telephony.carriers`` of config/callcenter.yaml): name, secret."""
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    carrier = data["telephony"]["carriers"][0]
    return str(carrier["name"]), str(carrier["secret"])


def media_stream_path() -> str:
    """``/media-stream`` with the demo carrier's credential, as a carrier dials it."""
    name, secret = demo_carrier()
    return f"/media-stream?carrier={name}&secret={secret}"


def pinned_hours(calendars: dict[str, HoursConfig], hours: Hours) -> dict[str, HoursConfig]:
    if hours == "as configured":
        return calendars
    return {
        name: HoursConfig(timezone=cal.timezone, always_open=hours == "open")
        for name, cal in calendars.items()
    }


def demo_config(db_url: str | None = None, *, hours: Hours = "open", **sections: Any) -> CenterConfig:
    """The demo center with its own database (``db_url``), the chosen hours and loopback
    telephony; ``sections`` replace whole sections (``telephony=`` is merged into the
    loopback settings as field overrides; ``telephony=False`` switches it off, and then the
    config is the same on every call, as a cluster's nodes need)."""
    config = load_config(DEMO)
    overrides = sections.pop("telephony", {})
    if overrides is False:
        telephony = replace(config.telephony, enabled=False)
    else:
        telephony = replace(config.telephony, **{**loopback_telephony(), **overrides})
    config = replace(config, hours=pinned_hours(config.hours, hours), telephony=telephony, **sections)
    if db_url is not None:
        config = replace(config, storage=replace(config.storage, url=db_url))
    return config


def demo_yaml(*, hours: Hours = "open", port: int | None = None, telephony: bool = True) -> dict[str, Any]:
    """The demo config file's content for a ``callcenter serve`` process of a test: the
    chosen hours, loopback telephony (or none), the repository's flows and prompt cache,
    and the HTTP port (a free one unless given)."""
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    if hours != "as configured":
        data["hours"] = {
            name: {"timezone": cal.get("timezone", "UTC"), "always_open": hours == "open"}
            for name, cal in data.get("hours", {}).items()
        }
    data["server"] = {**data.get("server", {}), "host": "127.0.0.1", "port": port or free_port()}
    data["telephony"] = {
        **data.get("telephony", {}),
        **(loopback_telephony() if telephony else {"enabled": False}),
    }
    data["ivr_dir"] = str(ROOT / "config" / "ivr")
    data["speech"] = {**data.get("speech", {}), "cache_dir": str(ROOT / "var" / "prompts")}
    return data
