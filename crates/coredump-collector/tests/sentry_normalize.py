"""Runs a Sentry event through Relay's own store normaliser.

Reads an event (JSON) on stdin and writes the normalised event (JSON) on
stdout; fields Relay finds invalid come back under `errors` and `_meta`.
Needs PyPI's `sentry-relay` (tests/sentry.rs runs it with the Python in
SENTRY_RELAY_PYTHON, a venv with `sentry-relay==0.10.1`).
"""

import json
import sys

from sentry_relay.processing import StoreNormalizer


def main() -> None:
    event = json.load(sys.stdin)
    normalized = StoreNormalizer().normalize_event(event)
    json.dump(normalized, sys.stdout)


if __name__ == "__main__":
    main()
