"""The weekly compliance report: a pure builder over what the store read, and renderers.

inputs.ReportInputs                            what ``store.report_reads`` reads for a period
build.build_weekly(inputs, since=, until=, ...) -> WeeklyReport                    (model.py)
render.render(report, "html" | "text" | "json" | "csv" | "pdf")
messages.build_report_slack / build_report_email                         (plain payloads)
period                                         ISO weeks in the report's timezone; when due

Sending it is a use case: ``monitor.jobs.report``.
"""
