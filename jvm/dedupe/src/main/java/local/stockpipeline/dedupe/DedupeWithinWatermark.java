package local.stockpipeline.dedupe;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.unix_millis;
import static org.apache.spark.sql.functions.when;
import static org.apache.spark.sql.functions.xxhash64;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * De-duplication by id within the watermark, with eviction by event-time timers: what
 * {@code withWatermark(t, delay).dropDuplicatesWithinWatermark([id])} gives for ids that name one
 * observation, without scanning the whole state every micro-batch.
 *
 * <p>Spark's operator keeps one row per id with its expiry (event time + delay) and, at the end of
 * every batch, iterates over all of them to remove the expired ones. Here the ids live in a
 * {@code transformWithState} operator, grouped by (event-time bucket, shard of the id), each group's
 * ids in a map with one event-time timer at the bucket's end. The timers are kept in an index ordered
 * by time: a batch reads only the timers that expire, and clears only the groups they cover.
 *
 * <p>A copy is recognised in its original's bucket: it must carry its original's event time, as
 * the pipeline's messages do (an id names one observation, and the observation its event time). An
 * id is forgotten once the watermark passes its bucket's end; a copy arriving after that has an event
 * time before the watermark, so Spark drops it as late before it reaches the state and counts it in
 * the operator's {@code numRowsDroppedByWatermark}, as it does with its own operator.
 *
 * <p>A row whose event time is null (a rejected record) passes untouched and keeps no state. The
 * output has the input's schema (the event-time column no longer carries the watermark: nothing
 * after this operator may need it).
 */
public final class DedupeWithinWatermark {

  /** The group of the rows without an event time (rejects): they never touch the state. */
  static final long NO_EVENT_TIME_GROUP = Long.MIN_VALUE;

  private static final String GROUP_COLUMN = "__dedupe_group";

  private DedupeWithinWatermark() {}

  /**
   * The records with a watermark of {@code delayMs} on {@code eventTimeColumn} (a timestamp), the
   * first copy of each {@code idColumn} (a string) kept within it.
   *
   * @param bucketMs the event-time bucket: ids are forgotten a bucket at a time
   * @param shards groups per bucket, to spread a bucket's ids over the shuffle partitions
   */
  public static Dataset<Row> apply(
      Dataset<Row> records,
      String idColumn,
      String eventTimeColumn,
      long delayMs,
      long bucketMs,
      int shards) {
    if (delayMs < 0 || bucketMs < 1 || shards < 1) {
      throw new IllegalArgumentException(
          "delayMs must be >= 0, bucketMs and shards >= 1: " + delayMs + ", " + bucketMs + ", " + shards);
    }
    StructType schema = records.schema();
    if (!schema.apply(idColumn).dataType().equals(DataTypes.StringType)) {
      throw new IllegalArgumentException("the id column must be a string: " + idColumn);
    }
    int idIndex = schema.fieldIndex(idColumn);
    Encoder<Row> rows = Encoders.row(schema);
    Column eventTime = col(eventTimeColumn);
    Column bucket = floor(unix_millis(eventTime).divide(lit(bucketMs)));
    Column shard = pmod(xxhash64(col(idColumn)), lit((long) shards));
    Column group =
        when(eventTime.isNull(), lit(NO_EVENT_TIME_GROUP))
            .otherwise(bucket.multiply(lit((long) shards)).plus(shard))
            .cast(DataTypes.LongType)
            .alias(GROUP_COLUMN);
    return records
        .withWatermark(eventTimeColumn, delayMs + " milliseconds")
        .groupBy(group)
        .as(Encoders.LONG(), rows)
        .transformWithState(
            new DedupeByBucket(idIndex, bucketMs, shards),
            TimeMode.EventTime(),
            OutputMode.Append(),
            rows);
  }
}
