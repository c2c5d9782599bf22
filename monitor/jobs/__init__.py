"""The use cases, orchestration only: what the CLI, the daemon and the benchmarks call.

    runtime.Runtime          what checks share in one process (config, baseline, db, HTTP pool)
    check.check_tenant       collect -> normalize -> evaluate + diff -> one transaction: the run,
                             its changes, finding states and the alerts they cause (outbox)
    deliver.dispatch         send what the outbox holds, record each outcome
    deliver.retry_failed     `cwdrift alerts retry`: send again what failed for good
    report.send_report_if_due  the weekly report, once per week, through the outbox
    housekeeping.prune       retention; the open-findings gauge
    preview.preview_baseline which tenant x rule a baseline change would flip, on the stored
                             snapshots (no ConnectWise request); preview_reload for SIGHUP
    fix.plan_tenant/apply_plans/approve
                             `cwdrift fix`: plan each failing rule's PATCH (or a person's steps),
                             send it, verify by re-reading with a full check, record it all
    fix.check_and_fix        the daemon's check: check_tenant, then rules in approve/auto mode

None of them knows how a check is scheduled (that is ``monitor.daemon``).
"""
