"""opvangwacht's decision core.

Everything under ``alerts`` (except ``alerts.notify``) is pure: it models locations, reports,
capacity and alerts, and decides what changes. It reads no clock, no environment and no network,
and never imports faust, aiokafka, httpx or ``streams``: event time always comes in as an argument.
``alerts.notify`` is the one exception, the edge that talks to receivers over httpx.

Docstring only, like every ``__init__.py`` under it: import the modules themselves. How the parts
layer is in docs/architecture.md and in the import-linter contracts of pyproject.toml.
"""
