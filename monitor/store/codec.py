"""How values travel into the store's text and binary columns, and back, losslessly."""

from __future__ import annotations

import functools
import json
import zlib
from typing import Any, cast

import orjson

from monitor.core.snapshot import Setting, Snapshot, Value, section_of


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """zlib-compressed JSON of :meth:`Snapshot.to_dict`; configurations compress about 10x."""
    text = json.dumps(snapshot.to_dict(), sort_keys=True, separators=(",", ":"))
    return zlib.compress(text.encode())


def decode_snapshot(body: bytes) -> Snapshot:
    data: dict[str, Any] = json.loads(zlib.decompress(body))
    return Snapshot.from_dict(data)


def decode_setting(body: bytes, key: str) -> tuple[Setting | None, str | None]:
    """One setting of a stored snapshot, and why it could not be read if it could not (its
    own reason, else its section's), without building the whole snapshot: a timeline reads one
    setting from every snapshot of a tenant, dozens a year of ~500 settings each."""
    data: dict[str, Any] = orjson.loads(zlib.decompress(body))
    raw = data["settings"].get(key)
    if raw is None:
        unknown = data.get("unknown", {})
        return None, unknown.get(key) or unknown.get(section_of(key))
    setting = Setting(
        key=key,
        label=raw["label"],
        value=raw["value"],
        updated_by=raw.get("updated_by"),
        last_updated=raw.get("last_updated"),
    )
    return setting, None


def encode_value(value: Value) -> str:
    return json.dumps(value)


def decode_value(text: str) -> Value:
    return cast(Value, json.loads(text))


@functools.lru_cache(maxsize=1024)  # a rule reads the same keys at every check of every tenant
def encode_keys(keys: tuple[str, ...]) -> str:
    return json.dumps(list(keys))


def decode_keys(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))
