"""``python -m streams.cli``: the same as the ``opvangwacht`` command."""

from streams.cli.main import main

raise SystemExit(main())
