"""The weekly compliance report: pure builders over the store, and renderers.

build.build_weekly(session, since=, until=, tenants=, now=) -> WeeklyReport   (model.py)
render.render(report, "html" | "text" | "json" | "csv" | "pdf")
messages.build_report_slack / build_report_email                          (plain payloads)
send.send_weekly(runtime, now)                                            (the daemon's job)
"""
