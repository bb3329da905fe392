"""Delivery bookkeeping: one receiver's ledger (``ledger``: confirmed, queued, held), its groups
and reminders (``grouping``), retry schedules (``retry``), escalation of unacknowledged
critical alerts (``escalation``) and one SMS per evaluation and morning (``bundle``).

Pure; may import ``alerts.receivers`` and the base modules, never ``alerts.dispatch``,
``alerts.notify``, httpx, faust, aiokafka or ``streams``. Docstring only: import the modules
themselves.
"""
