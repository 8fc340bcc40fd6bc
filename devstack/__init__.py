"""The local development stack: a real Kafka broker (KRaft) and a real Postgres, run from the repository."""
