"""What an alert change looks like on the wire, as plain data or text: the CloudEvents envelope
of a webhook (``cloudevents``), the PagerDuty Events API v2 body (``pagerduty``), and OASIS CAP
1.2 messages with their Atom feed (``oasis_cap``; CAP is the Common Alerting Protocol, not
capacity).

Pure; imports only ``alerts.model`` and ``alerts.catalogue``. Docstring only: import the modules
themselves.
"""
