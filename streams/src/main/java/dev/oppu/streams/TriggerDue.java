package dev.oppu.streams;

import dev.oppu.lamp.Task;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The (user, task)s whose behaviors wait for trigger evaluation when {@code oppu.ingest.trigger-delay-ms} is set: one
 * is due once no behavior arrived for the delay, or ten delays after the first (a user who never pauses still
 * trains). Kept in a logged store, so behaviors ingested before a crash are evaluated after it.
 */
final class TriggerDue {
  /** A due (user, task). */
  record Due(Bytes key, String userId, Task task) {}

  private final KeyValueStore<Bytes, byte[]> store;
  private final long delayMs;

  TriggerDue(KeyValueStore<Bytes, byte[]> store, Duration delay) {
    this.store = store;
    this.delayMs = delay.toMillis();
  }

  /** How often to look: a quarter of the delay, at least every 50 ms. */
  Duration interval() {
    return Duration.ofMillis(Math.max(50, delayMs / 4));
  }

  /** A behavior of (user, task) arrived at {@code now} (wall clock). */
  void mark(String userId, Task task, long now) {
    Bytes key = Bytes.wrap(Keys.prefix(userId, task.id()));
    byte[] old = store.get(key);
    long first = old == null ? now : ByteBuffer.wrap(old).getLong(0);
    byte[] user = userId.getBytes(StandardCharsets.UTF_8);
    byte[] taskId = task.id().getBytes(StandardCharsets.UTF_8);
    store.put(key, ByteBuffer.allocate(20 + user.length + taskId.length).putLong(first).putLong(now)
        .putInt(user.length).put(user).put(taskId).array());
  }

  /** The (user, task)s due at {@code now}, removed from the store. */
  List<Due> takeDue(long now) {
    List<Due> due = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> e = it.next();
        ByteBuffer v = ByteBuffer.wrap(e.value);
        long first = v.getLong();
        long last = v.getLong();
        if (now - last >= delayMs || now - first >= 10 * delayMs) {
          byte[] user = new byte[v.getInt()];
          v.get(user);
          byte[] task = new byte[v.remaining()];
          v.get(task);
          due.add(new Due(e.key, new String(user, StandardCharsets.UTF_8),
              Task.of(new String(task, StandardCharsets.UTF_8))));
        }
      }
    }
    due.forEach(d -> store.delete(d.key()));
    return due;
  }
}
