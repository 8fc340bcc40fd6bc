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
 * {@code withWatermark(t, delay).dropDuplicatesWithinWatermark([id])} does, without scanning the
 * whole state every micro-batch.
 *
 * <p>Spark's operator keeps one row per id with its expiry (event time + delay) and, at the end of
 * every batch, iterates over all of them to remove the expired ones. Here the ids live in a
 * {@code transformWithState} operator, whose event-time timers are kept in an index ordered by
 * time: a batch reads only the timers that expire, and clears only the state they cover.
 *
 * <p>How long an id is remembered: until the watermark reaches its event time (its bucket's end, in
 * the bucket shape) + {@code keepMs}. With {@code keepMs} = the delay, as Spark's operator: a copy
 * with another event time, up to the delay later, is still recognised. With {@code keepMs} = 0, half
 * the state (an id lives one delay of event time instead of two), and the same result for every copy
 * that carries its original's event time: once the watermark has passed that time, Spark drops the
 * copy as late before it reaches the state (and counts it as late, as it does with Spark's operator).
 *
 * <p>Two shapes, chosen by {@code bucketMs}:
 * <ul>
 *   <li>{@code bucketMs > 0} ("bucket"): grouped by (event-time bucket, shard of the id), a map of the
 *       bucket's ids per group and one timer per group, at the bucket's end + keepMs. A copy is
 *       recognised only in its original's bucket: a resend must carry the same event time (as the
 *       pipeline's ids do: each embeds the event time of the observation it names).</li>
 *   <li>{@code bucketMs == 0} ("id"): grouped by id, the id's timer (at event time + keepMs) is its
 *       only state. With keepMs = delay, Spark's semantics exactly, at the price of one group, one
 *       timer and one handler call per id.</li>
 * </ul>
 *
 * <p>In both, a row whose event time is null (a rejected record) passes untouched and keeps no
 * state; a row whose event time is before the watermark of the previous batch is dropped by Spark
 * and counted in the operator's {@code numRowsDroppedByWatermark}. The output has the input's
 * schema (the event-time column no longer carries the watermark: nothing after this operator may
 * need it).
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
   * @param keepMs how long past its event time (bucket end) the watermark must be to forget an id
   * @param bucketMs event-time bucket of the "bucket" shape; 0 for the "id" shape
   * @param shards groups per bucket (the "bucket" shape spreads a bucket over the shuffle partitions)
   */
  public static Dataset<Row> apply(
      Dataset<Row> records,
      String idColumn,
      String eventTimeColumn,
      long delayMs,
      long keepMs,
      long bucketMs,
      int shards) {
    if (delayMs < 0 || keepMs < 0 || bucketMs < 0 || (bucketMs > 0 && shards < 1)) {
      throw new IllegalArgumentException(
          "delayMs, keepMs and bucketMs must be >= 0, shards >= 1: "
              + delayMs + ", " + keepMs + ", " + bucketMs + ", " + shards);
    }
    StructType schema = records.schema();
    if (!schema.apply(idColumn).dataType().equals(DataTypes.StringType)) {
      throw new IllegalArgumentException("the id column must be a string: " + idColumn);
    }
    int idIndex = schema.fieldIndex(idColumn);
    int eventTimeIndex = schema.fieldIndex(eventTimeColumn);
    Encoder<Row> rows = Encoders.row(schema);
    Dataset<Row> watermarked = records.withWatermark(eventTimeColumn, delayMs + " milliseconds");
    Column eventTime = col(eventTimeColumn);
    if (bucketMs == 0) {
      // A null key: the group of the rows without an event time.
      Column group = when(eventTime.isNotNull(), col(idColumn)).alias(GROUP_COLUMN);
      return watermarked
          .groupBy(group)
          .as(Encoders.STRING(), rows)
          .transformWithState(
              new DedupeByIdTimer(idIndex, eventTimeIndex, keepMs),
              TimeMode.EventTime(),
              OutputMode.Append(),
              rows);
    }
    Column bucket = floor(unix_millis(eventTime).divide(lit(bucketMs)));
    Column shard = pmod(xxhash64(col(idColumn)), lit((long) shards));
    Column group =
        when(eventTime.isNull(), lit(NO_EVENT_TIME_GROUP))
            .otherwise(bucket.multiply(lit((long) shards)).plus(shard))
            .cast(DataTypes.LongType)
            .alias(GROUP_COLUMN);
    return watermarked
        .groupBy(group)
        .as(Encoders.LONG(), rows)
        .transformWithState(
            new DedupeByBucket(idIndex, keepMs, bucketMs, shards),
            TimeMode.EventTime(),
            OutputMode.Append(),
            rows);
  }
}
