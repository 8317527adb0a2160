"""Makes ``telsupport`` (helpers shared by the telephony tests) importable."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
