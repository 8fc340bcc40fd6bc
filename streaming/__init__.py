"""The streaming job: Kafka -> Spark Structured Streaming windowed aggregates -> Postgres."""
