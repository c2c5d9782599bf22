"""Alerting: plan (pure lifecycle, routing, messages) and deliver (thin senders).

lifecycle.plan_alerts(...)        previous states + one check -> new states + one group
routing.route_group(...)          a group -> one sub-group per channel
notify.notifications(plan, ...)   a plan -> the states with channels, one message per channel
tickets.plan_tickets(...)         a ticket channel's share -> ticket steps, incidents moved
messages.build_slack/build_email  a group -> a JSON payload
late.resend(...)                  a failed message retried later: marked late, or dropped
channels.CHANNEL_TYPES            the notifier registry (slack, email, ticket)
slack, email, ticket_sender       senders: transmit a built payload, classify failures
                                  (ticket_sender writes through monitor.connectwise)

The states and the outbox are stored by ``monitor.store.outbox``, ticket incidents by
``monitor.store.tickets``; ``monitor.jobs`` queues
messages in the check's transaction and dispatches them.
"""
