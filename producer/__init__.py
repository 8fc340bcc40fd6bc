"""The producer: polls Finnhub (or a synthetic market) and publishes contract messages to Kafka."""
