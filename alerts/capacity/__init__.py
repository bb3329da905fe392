"""Capacity arithmetic: reports applied to a location (``location``), locations summed
into province and national totals (``totals``), and the fine counter (``penalties``).

Pure; imports only ``alerts.model``. Docstring only: import the modules themselves.
"""
