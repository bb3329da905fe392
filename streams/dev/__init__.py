"""Development and test helpers that are part of the product: the embedded Kafka broker, the
loopback webhook sink and the one way to start a worker process."""
