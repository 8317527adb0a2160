"""Recording files under ``telephony.recordings_dir``: what the log says of one, and where
a logged path may be opened.

The log keeps a recording's path relative to ``recordings_dir`` (``c-17.wav``,
``voicemail/c-18.wav``); logs written before that keep absolute paths, read the same way.
Whatever a path says, ``inside`` opens nothing that does not resolve (symbolic links
followed) to a file under the folder: the log is data, not a permission.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any


def facts(path: Path, root: str | Path) -> dict[str, Any]:
    """What ``contact.recording``/``contact.voicemail`` log of a finished WAV: its path
    relative to ``root`` (absolute when it lies elsewhere), its length in seconds and its
    size in bytes (0 and 0 for a file that is gone or is not a WAV)."""
    seconds, size = 0.0, 0
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as wav:
            seconds = round(wav.getnframes() / wav.getframerate(), 3) if wav.getframerate() else 0.0
    except (OSError, wave.Error, EOFError):
        pass
    return {"path": relative(path, root), "seconds": seconds, "bytes": size}


def relative(path: Path, root: str | Path) -> str:
    """``path`` relative to ``root`` in forward slashes, or absolute when outside it."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


def inside(root: str | Path, logged: str) -> Path | None:
    """The file ``logged`` names (relative to ``root``, or absolute) when it resolves to a
    place under ``root``; None for anything else (``..``, another folder, a link out)."""
    if not logged or "\x00" in logged:
        return None
    base = Path(root).resolve()
    target = (base / logged).resolve()  # an absolute ``logged`` replaces ``base``
    if target == base or not target.is_relative_to(base):
        return None
    return target
