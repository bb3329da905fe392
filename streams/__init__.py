"""The Kafka edge of opvangwacht.

Faust app, topics, wire records and their conversion to domain values, tables, thin agents,
settings, metrics, logging, the embedded broker and the command line. Decisions are taken in
``alerts``; this package moves bytes in and out and stores state.
"""
