"""The local stack: a second start sees the servers up, and the schema is in place."""

from devstack.kafka import KAFKA_JARS_DIR, KafkaBroker
from devstack.postgres import PostgresServer
from devstack.schema import apply_schema


def test_starting_a_running_stack_again_changes_nothing(stack, tmp_path):
    assert KafkaBroker(stack.bootstrap_servers, tmp_path / "k", KAFKA_JARS_DIR).start() is False
    assert PostgresServer(stack.database_url, tmp_path / "p").start() is False


def test_schema_applies_again_and_has_the_contract_tables(stack, db):
    assert apply_schema(stack.database_url)[0] == "001_stock_aggregates.sql"
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_name IN ('stock_aggregates', 'rejected_events') ORDER BY table_name, ordinal_position"
        )
        columns = cursor.fetchall()
    assert [c for t, c in columns if t == "stock_aggregates"] == [
        "symbol", "window_start", "window_end", "open_price", "high_price", "low_price", "close_price",
        "avg_price", "price_stddev", "event_count", "volume", "vwap", "first_event_at", "last_event_at",
        "updated_at",
    ]
    assert [c for t, c in columns if t == "rejected_events"] == [
        "topic", "partition", "kafka_offset", "raw_value", "reason", "seen_at"
    ]
