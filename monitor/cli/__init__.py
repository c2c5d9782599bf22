"""The ``cwdrift`` command line: commands only (parse, call a use case or a store query, print).

app.py              the root command, COMMAND_GROUPS, and ``main`` (the console script)
common.py           the config for this invocation, option types, dates, output
*_commands.py       one group of commands each: their typer definitions, light at import
fix_run.py          what ``cwdrift fix`` does (imported when it runs)
render.py           human output (``--json`` bypasses it)
"""
