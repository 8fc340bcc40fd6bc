"""What the producer, the streaming job and the webapp must agree on: message contract, topics, settings."""
