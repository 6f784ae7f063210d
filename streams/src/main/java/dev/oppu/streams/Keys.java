package dev.oppu.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.utils.Bytes;

/**
 * Byte layout of state-store keys. Everything about one (user, task) shares the prefix {@code user 0x00 task 0x00},
 * so a user's data is one contiguous key range (RocksDB orders keys as unsigned bytes). History keys append the
 * big-endian seq (oldest first in a range scan); posting keys append the UTF-8 term.
 */
public final class Keys {
  private Keys() {}

  public static byte[] prefix(String userId, String task) {
    byte[] u = userId.getBytes(StandardCharsets.UTF_8);
    byte[] t = task.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[u.length + t.length + 2];
    System.arraycopy(u, 0, out, 0, u.length);
    System.arraycopy(t, 0, out, u.length + 1, t.length);
    return out;
  }

  public static Bytes history(byte[] prefix, long seq) {
    return Bytes.wrap(ByteBuffer.allocate(prefix.length + 8).put(prefix).putLong(seq).array());
  }

  /** Index segment {@code segNo} of a (user, task): same layout as history keys, in the postings store. */
  public static Bytes segment(byte[] prefix, long segNo) {
    return history(prefix, segNo);
  }

  public static Bytes term(byte[] prefix, String term) {
    byte[] t = term.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[prefix.length + t.length];
    System.arraycopy(prefix, 0, out, 0, prefix.length);
    System.arraycopy(t, 0, out, prefix.length, t.length);
    return Bytes.wrap(out);
  }

  public static Bytes withSuffix(byte[] prefix, String suffix) {
    return term(prefix, suffix);
  }

  public static Bytes dedup(String userId, String eventId) {
    return Bytes.wrap((userId + '\u0000' + eventId).getBytes(StandardCharsets.UTF_8));
  }
}
