package local.stockpipeline.dedupe;

import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import scala.collection.Iterator;

/**
 * One group per (event-time bucket, shard of the id): the group's ids in a map, and one event-time
 * timer at the bucket's end that clears the whole map.
 *
 * <p>Per record: one map lookup, and one put for a new id. Per group and batch: one prefix seek
 * (does the group hold ids yet?), and a timer for a new group. Per expiry: one step of the timer
 * index's range scan, a prefix scan of the group's ids and a delete each.
 */
final class DedupeByBucket extends StatefulProcessor<Long, Row, Row> {

  private final int idIndex;
  private final long bucketMs;
  private final long shards;
  private transient MapState<String, Boolean> ids;

  DedupeByBucket(int idIndex, long bucketMs, int shards) {
    this.idIndex = idIndex;
    this.bucketMs = bucketMs;
    this.shards = shards;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    ids = getHandle().getMapState("ids", Encoders.STRING(), Encoders.BOOLEAN(), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(Long group, Iterator<Row> rows, TimerValues timerValues) {
    if (group == DedupeWithinWatermark.NO_EVENT_TIME_GROUP) {
      return rows;
    }
    // Spark calls this once per group and batch, with at least one row that is not late.
    if (!ids.exists()) {
      long bucket = Math.floorDiv(group, shards);
      getHandle().registerTimer((bucket + 1) * bucketMs);
    }
    return rows.filter(
        row -> {
          String id = row.getString(idIndex);
          if (id == null) {
            return true; // an event without an id cannot repeat one
          }
          if (ids.containsKey(id)) {
            return false;
          }
          ids.updateValue(id, Boolean.TRUE);
          return true;
        });
  }

  @Override
  public Iterator<Row> handleExpiredTimer(
      Long group, TimerValues timerValues, ExpiredTimerInfo expiredTimerInfo) {
    ids.clear();
    return scala.collection.Iterator$.MODULE$.empty();
  }
}
