"""A node's name in the database: ``hostname:pid:random``, unique across restarts."""

from __future__ import annotations

import os
import socket
import uuid


def new_node_id() -> str:
    """``hostname:pid:random``: unique across restarts, and says where the process runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
