"""``python -m monitor``: the ``cwdrift`` command line (what the console script runs)."""

from monitor.cli.app import main

main()
