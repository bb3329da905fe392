"""Who hears about an alert change, and when. Five stages: label matchers (``matchers``),
the route tree and audiences (``route``), silences (``silence``), inhibition (``inhibit``); their
configuration (``config``); the decisions they make (``decision``); one alert change routed to
its decisions (``dispatcher``, for the worker and the dry run alike); and quiet hours and SMS
budgets for one item against its receiver's ledger (``admit``).

Pure; may import ``alerts.delivery.ledger`` and the base modules, never ``alerts.notify``, httpx,
faust, aiokafka or ``streams``. Docstring only: import the modules themselves.
"""
