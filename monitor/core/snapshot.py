"""The canonical snapshot of one tenant's ConnectWise configuration (pure data).

A snapshot is a flat mapping of stable setting keys to :class:`Setting` values, sorted by key,
so that diffing, hashing, storing and "what was it on date D" all work on the same shape.

Setting keys (``<section>.<rest>``; slugs are lowercase words joined by ``_``):

    member.identifier / member.found / member.inactive / member.role / member.role_id
                                          the integration API member named in the tenant config
    role.name / role.id / role.admin / role.inactive
                                          the security role assigned to that member
    permission.<module>.<function>.<op>   "None" | "My" | "All"; op is add, edit, delete, inquire;
                                          module/function are slugs of the names shown in the UI,
                                          e.g. permission.finance.accounting_interface.add
    customize.<category>/<name>           True when Table Setup > Customize allows the table,
                                          e.g. customize.invoicing/billing_status
    accounting.package                    the package identifier, e.g. "Other"
    accounting.<apiField>                 every field of AccountingPackageSetup, named as in the
                                          API, e.g. accounting.transferExpensesAsBillFlag
    gl.segment<N> / gl.segment<N>type / gl.cogs<N>
                                          GL captions: segment captions and types, COGS captions

What could not be read is listed in ``unknown`` with the reason, never given a value:

* a whole **section** (``customize`` with auditor credentials, ``accounting`` when ConnectWise
  returned no record): every setting of it is unknown;
* a single **setting** (``accounting.includeSalesTaxFlag`` when ConnectWise sent ``null`` or
  ``"true"`` for it): that setting alone; the rest of its section was read.

Rules reading an unknown key evaluate to *unknown* with the reason, never pass or fail.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.clock import ensure_utc

Value = str | bool | int | None


class CredentialMode(StrEnum):
    """How the tenant's keys relate to the monitored member (see README, "Credential modes")."""

    INTEGRATION = "integration"  # the monitored API member's own keys
    AUDITOR = "auditor"  # a separate read-only member


_SLUG_RUN = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)  # the same ~250 UI names recur in every tenant's snapshot
def slug(text: str) -> str:
    """UI name to key part, tolerant of case and punctuation: 'Time & Expense' -> 'time_expense'."""
    return _SLUG_RUN.sub("_", text.strip().lower()).strip("_")


def permission_key(module: str, function: str, op: str) -> str:
    return f"permission.{slug(module)}.{slug(function)}.{op}"


def customize_key(category: str, name: str) -> str:
    return f"customize.{slug(category)}/{slug(name)}"


def section_of(key: str) -> str:
    return key.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Setting:
    """One observed setting; ``updated_by``/``last_updated`` come from ConnectWise ``_info``."""

    key: str
    label: str
    value: Value
    updated_by: str | None = None
    last_updated: str | None = None

    def __init__(
        self,
        key: str,
        label: str,
        value: Value,
        updated_by: str | None = None,
        last_updated: str | None = None,
    ) -> None:
        # A check builds ~500 settings; the generated frozen __init__ (object.__setattr__ per
        # field) took a third of normalize. Slot descriptors set the fields at a third the cost.
        _set_key(self, key)
        _set_label(self, label)
        _set_value(self, value)
        _set_updated_by(self, updated_by)
        _set_last_updated(self, last_updated)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "value": self.value}
        if self.updated_by is not None:
            data["updated_by"] = self.updated_by
        if self.last_updated is not None:
            data["last_updated"] = self.last_updated
        return data


class Provenance(Mapping[str, tuple[str | None, str | None]]):
    """Setting key -> (updated_by, last_updated), for the settings whose record said either.

    A view, not a copy: a check looks up the few keys its failing rules read among ~500.
    """

    __slots__ = ("_settings",)

    def __init__(self, settings: Mapping[str, Setting]) -> None:
        self._settings = settings

    def __getitem__(self, key: str) -> tuple[str | None, str | None]:
        setting = self._settings[key]
        if setting.updated_by is None and setting.last_updated is None:
            raise KeyError(key)
        return setting.updated_by, setting.last_updated

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._settings if key in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _slot_setter(name: str) -> Callable[[Setting, Any], None]:
    """Set one field of a new Setting, bypassing the frozen ``__setattr__`` (for ``__init__``)."""
    setter: Callable[[Setting, Any], None] = vars(Setting)[name].__set__
    return setter


_set_key, _set_label, _set_value, _set_updated_by, _set_last_updated = (
    _slot_setter(name) for name in ("key", "label", "value", "updated_by", "last_updated")
)


@dataclass(frozen=True)
class Snapshot:
    """A complete read of one tenant. Incomplete reads never become snapshots (see collect)."""

    tenant_id: str
    collected_at: datetime
    credential_mode: CredentialMode
    settings: Mapping[str, Setting]
    unknown: Mapping[str, str] = field(default_factory=dict)  # section or setting key -> why

    @classmethod
    def build(
        cls,
        tenant_id: str,
        collected_at: datetime,
        credential_mode: CredentialMode,
        settings: Iterable[Setting],
        unknown: Mapping[str, str] | None = None,
    ) -> Snapshot:
        ordered = {s.key: s for s in sorted(settings, key=lambda s: s.key)}
        return cls(
            tenant_id=tenant_id,
            collected_at=ensure_utc(collected_at),
            credential_mode=credential_mode,
            settings=ordered,
            unknown=dict(sorted((unknown or {}).items())),
        )

    def get(self, key: str) -> Setting | None:
        return self.settings.get(key)

    def value(self, key: str) -> Value:
        setting = self.settings.get(key)
        return None if setting is None else setting.value

    def unknown_reason(self, key: str) -> str | None:
        """Why setting ``key`` could not be read (it alone, or its section), or None."""
        return self.unknown.get(key) or self.unknown.get(section_of(key))

    def unknown_section(self, section: str) -> str | None:
        """Why the whole ``section`` could not be read, or None if it was read."""
        return self.unknown.get(section)

    def unknown_settings(self, section: str) -> dict[str, str]:
        """The single settings of a read ``section`` that could not be read, with the reasons."""
        prefix = f"{section}."
        return {key: why for key, why in self.unknown.items() if key.startswith(prefix)}

    def provenance(self) -> Provenance:
        """Who last changed each setting and when, as ConnectWise's ``_info`` said."""
        return Provenance(self.settings)

    def values(self) -> dict[str, Value]:
        return {key: s.value for key, s in self.settings.items()}

    @functools.cached_property  # computed once: the check and the store both compare it
    def content_hash(self) -> str:
        """Hash of what was observed (values and unknown sections), not of when or by whom."""
        payload = json.dumps(
            {"values": self.values(), "unknown": dict(self.unknown)},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id,
            "collected_at": self.collected_at.isoformat(),
            "credential_mode": self.credential_mode.value,
            "settings": {key: s.to_dict() for key, s in self.settings.items()},
            "unknown": dict(self.unknown),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls.build(
            tenant_id=data["tenant"],
            collected_at=datetime.fromisoformat(data["collected_at"]),
            credential_mode=CredentialMode(data["credential_mode"]),
            settings=[
                Setting(
                    key=key,
                    label=raw["label"],
                    value=raw["value"],
                    updated_by=raw.get("updated_by"),
                    last_updated=raw.get("last_updated"),
                )
                for key, raw in data["settings"].items()
            ],
            unknown=data.get("unknown", {}),
        )
