"""Answers ConnectWise changes only with an upgrade, kept between runs (revision 0010_read_cache).

One row per tenant and kind (``codebase``, ``screens``, ``role_refused``): the payload as JSON
text (its shape belongs to ``monitor.connectwise.read_cache``), the ``api-current-version`` of
the check that read it, and when it expires. A cache: losing a row costs one request, never a
verdict, so there is no foreign key to ``tenant`` and nothing else refers to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from monitor.store.tables import UTCDateTime


class ReadCacheRow(SQLModel, table=True):
    __tablename__ = "read_cache"

    tenant: str = Field(primary_key=True, sa_type=String(500))  # "{site origin} {company id}"
    kind: str = Field(primary_key=True, sa_type=String(32))
    payload: str = Field(sa_type=Text)
    version: str | None = Field(default=None, sa_type=String(100))
    expires_at: datetime = Field(sa_type=UTCDateTime)
