"""``cwdrift fix``: plan the fix of drift, apply what ConnectWise lets us write, verify it.

One command with four uses: a dry run (default), ``--apply`` (asks on a terminal, ``--yes`` for
scripts), ``--pending`` / ``--approve PLAN_ID`` (plans the daemon made for rules in ``approve``
mode), and ``--resume`` (let automatic fixes of a rule try again after one did not hold).
The command is defined here; what it does is in ``fix_run`` (imported when it runs: it needs
the fix use cases, ConnectWise and the store, which ``cwdrift --help`` should not load).
"""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.common import JsonOpt

commands = typer.Typer()


@commands.command()
def fix(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant id from the config.")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Only this rule (repeatable).")
    ] = None,
    apply_: Annotated[
        bool,
        typer.Option("--apply", help="Send the writes, re-read and verify (asks on a terminal)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (for scripts).")] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="List the fix plans waiting for approval.")
    ] = False,
    approve_id: Annotated[
        int | None,
        typer.Option(
            "--approve", metavar="PLAN_ID", help="Apply one pending plan (re-read first)."
        ),
    ] = None,
    resume_: Annotated[
        bool,
        typer.Option(
            "--resume", help="Let automatic fixes of --rule (or all) try again after one failed."
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is fixing (default: your OS user name).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan the fix of a tenant's failing rules; with --apply, write what ConnectWise allows.

    A dry run by default: per failing rule, the exact JSON Patch it would send (endpoint, record,
    from -> to), or the numbered steps for a person where the API cannot write it (permission
    rows, Table Setup customize lists). --apply sends the PATCHes with the tenant's fix keys,
    re-reads everything with a full check, and reports each rule fixed, not fixed or
    needs-a-person. Every plan and write is recorded (cwdrift history marks them).

    Exit status: a dry run 0 when nothing is to be fixed, 1 when it planned something; --apply
    and --approve 0 when every rule is fixed and verified and nothing else fails, 1 when any
    rule still fails (including the ones only a person can fix), 2 on an error.

    Example: cwdrift fix --tenant globex --rule transfer-expenses-as-bill-is-off --apply
    """
    from monitor.cli.fix_run import run_fix

    run_fix(
        tenant=tenant,
        rule=rule,
        apply_=apply_,
        yes=yes,
        pending=pending,
        approve_id=approve_id,
        resume_=resume_,
        by=by,
        as_json=as_json,
    )
