"""Phone number normalisation cost: a carrier's E.164 caller id (the fast path, no parser)
against a national number typed into the CRM (the phonenumbers parser), per call.

    python bench/phone_bench.py [--n 50000]

Prints figures, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from callcenter.crm_link.phone import normalize_phone

CASES = {
    "e164_fast_us": ("+972501234567", "+972"),
    "national_parse_us": ("050-123 4567", "+972"),
    "e164_mended_us": ("+4402079460958", "+44"),  # trunk 0 after +44: the parser mends it
}


def per_call_us(raw: str, country: str, n: int) -> float:
    """Median of 5 runs of ``n`` calls, in microseconds per call."""
    normalize_phone(raw, country)  # metadata loads on first use
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            normalize_phone(raw, country)
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50000)
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info}")
    figures: dict[str, object] = {"name": "phone", "cores": info["cores"]}
    for key, (raw, country) in CASES.items():
        us = per_call_us(raw, country, args.n)
        print(f"phone: {raw!r} under {country}: {us:.2f} us per normalize_phone()")
        figures[key] = round(us, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
