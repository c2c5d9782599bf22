"""How values travel into the store's text and binary columns, and back, losslessly."""

from __future__ import annotations

import functools
import json
import zlib
from typing import Any, cast

from monitor.core.snapshot import Snapshot, Value


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """zlib-compressed JSON of :meth:`Snapshot.to_dict`; configurations compress about 10x."""
    text = json.dumps(snapshot.to_dict(), sort_keys=True, separators=(",", ":"))
    return zlib.compress(text.encode())


def decode_snapshot(body: bytes) -> Snapshot:
    data: dict[str, Any] = json.loads(zlib.decompress(body))
    return Snapshot.from_dict(data)


def encode_value(value: Value) -> str:
    return json.dumps(value)


def decode_value(text: str) -> Value:
    return cast(Value, json.loads(text))


@functools.lru_cache(maxsize=1024)  # a rule reads the same keys at every check of every tenant
def encode_keys(keys: tuple[str, ...]) -> str:
    return json.dumps(list(keys))


def decode_keys(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))
