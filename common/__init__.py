"""What the producer, the streaming job and the webapp must agree on: the message contract and settings."""
