"""The pure middle: what a tenant's setup is, what the baseline requires, and the verdict.

    snapshot.Snapshot        one tenant's settings as read (canonical keys, values, provenance)
    baseline.load_baseline   the requirements as validated data (config/baseline.yaml)
    evaluate.evaluate/diff   snapshot x baseline -> findings; two snapshots -> changes
    rules/                   the rule kinds a baseline rule names
    findings, options        Finding/Change/Status/Severity; per-tenant options and waivers
    remedy, remediation      what fixing a failing rule takes (a PATCH, or a person's steps);
                             fix modes; the plan of a tenant's fixes

No I/O and no wall clock: time is passed in. Imports nothing of ours but the leaves
(errors, clock, durations, yamlfile).
"""
