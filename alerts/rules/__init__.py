"""The rules and the life of an alert: location rules (``location``), province and national rules
(``aggregate``), and the pending/firing/resolved state machine they feed (``lifecycle``).

Pure; may import ``alerts.capacity``, ``alerts.config`` and the base modules, never
``alerts.dispatch``, ``alerts.delivery.ledger``, ``alerts.notify``, httpx, faust, aiokafka or
``streams``. Docstring only: import the modules themselves.
"""
