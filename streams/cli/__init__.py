"""The ``opvangwacht`` command line: the worker, the demo, publishing and the dry run."""
