package local.stockpipeline.dedupe;

import java.sql.Timestamp;
import java.time.Instant;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import scala.collection.Iterator;

/**
 * The "id" shape: one group per id, whose only state is its event-time timer at the first copy's
 * event time + keepMs (with keepMs = the delay, Spark's expiry: the id is forgotten once the
 * watermark reaches it).
 *
 * <p>Per record: one prefix seek of the timer index (is a timer registered?), and for a new id the
 * timer itself (a get and two puts). Per expiry: one range-scan step, a get and two deletes.
 */
final class DedupeByIdTimer extends StatefulProcessor<String, Row, Row> {

  private final int idIndex;
  private final int eventTimeIndex;
  private final long keepMs;

  DedupeByIdTimer(int idIndex, int eventTimeIndex, long keepMs) {
    this.idIndex = idIndex;
    this.eventTimeIndex = eventTimeIndex;
    this.keepMs = keepMs;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {}

  @Override
  public Iterator<Row> handleInputRows(String id, Iterator<Row> rows, TimerValues timerValues) {
    if (id == null) {
      return rows; // no event time (a reject), or no id: nothing to repeat
    }
    if (getHandle().listTimers().hasNext()) {
      return scala.collection.Iterator$.MODULE$.empty(); // remembered: every row a copy
    }
    // The batch's rows of this id, in the order Spark read them: the first passes, with its expiry.
    Row first = rows.next();
    getHandle().registerTimer(epochMillis(first.get(eventTimeIndex)) + keepMs);
    return scala.collection.Iterator$.MODULE$.single(first);
  }

  /** A timestamp as the Row holds it: Timestamp, or Instant with spark.sql.datetime.java8API.enabled. */
  private static long epochMillis(Object timestamp) {
    return timestamp instanceof Instant
        ? ((Instant) timestamp).toEpochMilli()
        : ((Timestamp) timestamp).getTime();
  }

  @Override
  public Iterator<Row> handleExpiredTimer(
      String id, TimerValues timerValues, ExpiredTimerInfo expiredTimerInfo) {
    return scala.collection.Iterator$.MODULE$.empty(); // Spark deletes the timer after this call
  }
}
