"""Not Python: this folder ships as the package data ``monitor.data.config`` (see pyproject)."""
