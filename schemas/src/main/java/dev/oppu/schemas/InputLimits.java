package dev.oppu.schemas;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;

/**
 * The limits on hostile input every component applies the same way, and the one builder of {@link DeadLetter}s.
 *
 * <ul>
 *   <li>Ids (user, request, event and item ids) longer than {@code maxIdChars} characters are refused
 *       ({@value #MAX_ID_LENGTH}, default {@value #DEFAULT_MAX_ID_LENGTH}).</li>
 *   <li>A dead letter keeps at most {@code maxDeadLetterValueBytes} bytes of the refused record's value (and of its
 *       key), with the value's original size and SHA-256 ({@value #MAX_DEAD_LETTER_VALUE_BYTES}, default
 *       {@value #DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES}): a 10 MB record is not copied whole into the dead letters,
 *       where it could also exceed the broker's record limit.</li>
 *   <li>A dead letter's reason is cut to {@value #MAX_REASON_CHARS} characters (reasons may quote the input).</li>
 *   <li>The Streams application serializes no dead letter or response whose value, with {@code 1 KiB} for key and
 *       framing, exceeds {@code maxOutputRecordBytes} ({@value #MAX_OUTPUT_RECORD_BYTES}, default
 *       {@value #DEFAULT_MAX_OUTPUT_RECORD_BYTES}; keep it at or below those topics' {@code max.message.bytes}): such
 *       a record is replaced by a small dead letter before it reaches the producer (see the streams module's
 *       {@code RefusedRecordHandler}).</li>
 * </ul>
 *
 * <p>Ingestion ({@code IngestConfig}), serving ({@code ServingConfig}) and the trainer read the same properties
 * through {@link #from(Properties)}.
 */
public record InputLimits(int maxIdChars, int maxDeadLetterValueBytes, int maxOutputRecordBytes) {
  public static final String MAX_ID_LENGTH = "oppu.ids.max.length";
  public static final String MAX_DEAD_LETTER_VALUE_BYTES = "oppu.dead-letters.max.value.bytes";
  public static final int DEFAULT_MAX_ID_LENGTH = 256;
  public static final int DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES = 64 * 1024;
  public static final String MAX_OUTPUT_RECORD_BYTES = "oppu.output.max.record.bytes";
  /** Below the broker's default {@code message.max.bytes} (1048588) with room for key and batch framing. */
  public static final int DEFAULT_MAX_OUTPUT_RECORD_BYTES = 1_000_000;
  public static final int MAX_REASON_CHARS = 1024;

  public InputLimits {
    if (maxIdChars < 1) {
      throw new IllegalArgumentException(MAX_ID_LENGTH + " must be positive, got " + maxIdChars);
    }
    if (maxOutputRecordBytes < 1) {
      throw new IllegalArgumentException(MAX_OUTPUT_RECORD_BYTES + " must be positive, got " + maxOutputRecordBytes);
    }
    if (maxDeadLetterValueBytes < 0) {
      throw new IllegalArgumentException(MAX_DEAD_LETTER_VALUE_BYTES + " must be >= 0, got "
          + maxDeadLetterValueBytes);
    }
  }

  public static InputLimits defaults() {
    return new InputLimits(DEFAULT_MAX_ID_LENGTH, DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES,
        DEFAULT_MAX_OUTPUT_RECORD_BYTES);
  }

  public static InputLimits from(Properties p) {
    return new InputLimits(intProp(p.getProperty(MAX_ID_LENGTH), MAX_ID_LENGTH, DEFAULT_MAX_ID_LENGTH),
        intProp(p.getProperty(MAX_DEAD_LETTER_VALUE_BYTES), MAX_DEAD_LETTER_VALUE_BYTES,
            DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES),
        intProp(p.getProperty(MAX_OUTPUT_RECORD_BYTES), MAX_OUTPUT_RECORD_BYTES, DEFAULT_MAX_OUTPUT_RECORD_BYTES));
  }

  /** From a configuration map (e.g. what Kafka passes to a configurable class). */
  public static InputLimits from(Map<String, ?> m) {
    return new InputLimits(intProp(str(m.get(MAX_ID_LENGTH)), MAX_ID_LENGTH, DEFAULT_MAX_ID_LENGTH),
        intProp(str(m.get(MAX_DEAD_LETTER_VALUE_BYTES)), MAX_DEAD_LETTER_VALUE_BYTES,
            DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES),
        intProp(str(m.get(MAX_OUTPUT_RECORD_BYTES)), MAX_OUTPUT_RECORD_BYTES, DEFAULT_MAX_OUTPUT_RECORD_BYTES));
  }

  /** These limits as properties (to hand them to a component configured by properties). */
  public Properties toProperties() {
    Properties p = new Properties();
    p.setProperty(MAX_ID_LENGTH, Integer.toString(maxIdChars));
    p.setProperty(MAX_DEAD_LETTER_VALUE_BYTES, Integer.toString(maxDeadLetterValueBytes));
    p.setProperty(MAX_OUTPUT_RECORD_BYTES, Integer.toString(maxOutputRecordBytes));
    return p;
  }

  /** Whether {@code id} is within the id length limit (null counts as fitting: absence is checked elsewhere). */
  public boolean fits(String id) {
    return id == null || id.length() <= maxIdChars;
  }

  /** Null when {@code id} fits, else the reason to refuse it, naming {@code field} but not quoting the id. */
  public String idProblem(String field, String id) {
    return fits(id) ? null : field + " of " + id.length() + " characters exceeds the limit of " + maxIdChars + " ("
        + MAX_ID_LENGTH + ")";
  }

  /**
   * The key a dead letter is written under: the first candidate that is a plausible user id (not blank, within the
   * id limit), so a user's dead letters stay with the user (export, deletion); else the last candidate (the record's
   * own key, even blank) if it fits; else null, so an oversize id never becomes a record key.
   */
  public String owner(String... candidates) {
    for (String c : candidates) {
      if (c != null && !c.isBlank() && fits(c)) {
        return c;
      }
    }
    String last = candidates.length == 0 ? null : candidates[candidates.length - 1];
    return fits(last) ? last : null;
  }

  /**
   * A dead letter: where the record came from, why it was refused, at most {@link #maxDeadLetterValueBytes} of its
   * value and key, and the value's original size and SHA-256. Every dead letter of the system is built here.
   */
  public DeadLetter deadLetter(String sourceTopic, int partition, long offset, byte[] key, byte[] value,
      String reason, Instant time) {
    return deadLetter(sourceTopic, partition, offset, key, value, reason, time, maxDeadLetterValueBytes);
  }

  /**
   * As above, keeping at most {@code keepValueBytes} (and no more than the configured limit) of the value: 0 for the
   * dead letter of a record the broker refused, whose bytes are what was refused.
   */
  public DeadLetter deadLetter(String sourceTopic, int partition, long offset, byte[] key, byte[] value,
      String reason, Instant time, int keepValueBytes) {
    int keep = Math.max(0, Math.min(keepValueBytes, maxDeadLetterValueBytes));
    boolean cutKey = key != null && key.length > maxDeadLetterValueBytes;
    boolean cutValue = value != null && value.length > keep;
    return DeadLetter.newBuilder()
        .setSourceTopic(sourceTopic == null ? "" : sourceTopic)
        .setPartition(partition)
        .setOffset(offset)
        .setKey(key == null ? null : ByteBuffer.wrap(cutKey ? Arrays.copyOf(key, maxDeadLetterValueBytes) : key))
        .setValue(value == null ? null : ByteBuffer.wrap(cutValue ? Arrays.copyOf(value, keep) : value))
        .setReason(clip(reason == null ? "" : reason, MAX_REASON_CHARS))
        .setTime(time)
        .setOriginalSize(value == null ? null : (long) value.length)
        .setOriginalSha256(value == null ? null : sha256(value))
        .setTruncated(cutKey || cutValue)
        .build();
  }

  /** As above, for a key that is a string. */
  public DeadLetter deadLetter(String sourceTopic, int partition, long offset, String key, byte[] value,
      String reason, Instant time) {
    return deadLetter(sourceTopic, partition, offset, key == null ? null : key.getBytes(StandardCharsets.UTF_8),
        value, reason, time);
  }

  /** {@code s} cut to at most {@code max} characters, marked with "..." (and its full length) when cut. */
  public static String clip(String s, int max) {
    if (s == null || s.length() <= max) {
      return s;
    }
    String tail = "... (" + s.length() + " chars)";
    return s.substring(0, Math.max(0, max - tail.length())) + tail;
  }

  /** Lower-case hex SHA-256. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String str(Object o) {
    return o == null ? null : o.toString();
  }

  private static int intProp(String v, String name, int dflt) {
    try {
      return v == null ? dflt : Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be an integer, got '" + v + "'");
    }
  }
}
