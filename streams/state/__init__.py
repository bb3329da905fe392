"""The worker's state: Faust tables and their codecs, the batch overlay, and the small topics every
worker follows whole (locations, audit trail, silences). Imports no stage of the worker."""
