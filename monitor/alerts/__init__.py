"""Alerting: plan (pure lifecycle, routing, messages), persist (outbox), deliver (senders).

lifecycle.plan_alerts(...)        previous states + one check -> new states + one group
routing.route_group(...)          a group -> one sub-group per channel
messages.build_slack/build_email  a group -> a JSON payload
outbox.enqueue_for_check(...)     all of the above, written in the caller's transaction
dispatch.dispatch_pending(...)    claim due outbox rows, send, record the outcome
channels.CHANNEL_TYPES            the notifier registry (slack, email)
"""
