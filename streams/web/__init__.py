"""The worker's web edge: what the views share (reading bodies, the headers every answer carries,
the status page's Content-Security-Policy, checking SMS delivery reports), and the status page
itself (``index.html``, package data)."""
