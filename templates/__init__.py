"""Not Python: this folder ships as the package data ``monitor.data.templates`` (see pyproject)."""
