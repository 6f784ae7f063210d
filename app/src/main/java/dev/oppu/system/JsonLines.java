package dev.oppu.system;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;

/**
 * JSON lines to Avro events, for producers that do not speak Avro ({@code oppu publish}).
 *
 * <p>Behavior line: {@code {"eventId"?, "userId", "task", "eventTime"?, "itemId"?, "fields": {...}}}. Without an
 * eventId, the id is derived from the line's content (SHA-256 of its canonical JSON), so publishing the same file
 * twice yields duplicates that ingestion drops. eventTime is epoch milliseconds or ISO-8601 with an offset
 * ({@code 2024-05-01T10:00:00Z}); without it, the publish time. fields must be the task's LaMP item fields (checked
 * by {@link Task#validateItem}); numbers are taken as their text.
 *
 * <p>Request line: {@code {"requestId", "userId", "task", "input", "mode"?, "k"?, "deadline"?, "requestTime"?}}.
 * The input must carry its task's LaMP marker; mode is one of {@link #MODES}; k a positive integer.
 *
 * <p>Unknown keys are errors (a misspelt "eventtime" would otherwise silently become "now").
 */
public final class JsonLines {

  /** What a file holds. */
  public enum Kind {
    BEHAVIORS("behaviors"), REQUESTS("requests");

    public final String label;

    Kind(String label) {
      this.label = label;
    }

    public static Kind of(String s) {
      for (Kind k : values()) {
        if (k.label.equalsIgnoreCase(s) || k.name().equalsIgnoreCase(s)) {
          return k;
        }
      }
      throw new IllegalArgumentException("kind must be behaviors or requests, got '" + s + "'");
    }
  }

  /** Serving modes a request may ask for (SPEC section 4), in their canonical spelling. */
  public static final List<String> MODES = List.of("non-personalized", "RAG", "PAG", "OPPU", "OPPU+RAG", "OPPU+PAG");

  /** Longest line accepted; longer lines are reported, not parsed (a runaway line is not an event). */
  public static final int MAX_LINE_CHARS = 1 << 20;

  private static final Set<String> BEHAVIOR_KEYS = Set.of("eventId", "userId", "task", "eventTime", "itemId", "fields");
  private static final Set<String> REQUEST_KEYS =
      Set.of("requestId", "userId", "task", "input", "mode", "k", "deadline", "requestTime");

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A line that cannot become an event, with the reason. */
  public static final class BadLineException extends Exception {
    public BadLineException(String message) {
      super(message);
    }
  }

  private final Clock clock;

  public JsonLines(Clock clock) {
    this.clock = clock;
  }

  /** Parses one line of the given kind. */
  public SpecificRecord parse(Kind kind, String line) throws BadLineException {
    return kind == Kind.BEHAVIORS ? behavior(line) : request(line);
  }

  /** The record key (the user id) of a parsed event. */
  public static String key(SpecificRecord r) {
    if (r instanceof Behavior b) {
      return b.getUserId();
    }
    if (r instanceof Request q) {
      return q.getUserId();
    }
    throw new IllegalArgumentException("not an event: " + r.getClass());
  }

  public Behavior behavior(String line) throws BadLineException {
    ObjectNode o = object(line, BEHAVIOR_KEYS);
    String userId = requiredText(o, "userId");
    Task task = task(o);
    String eventId = present(o, "eventId") ? requiredText(o, "eventId") : derivedId(o);
    Instant eventTime = present(o, "eventTime") ? instant(o, "eventTime") : clock.instant();
    String itemId = present(o, "itemId") ? scalarText(o, "itemId") : null;
    Map<String, String> fields = fields(o);
    try {
      task.validateItem(fields);
    } catch (LampInputException e) {
      throw new BadLineException(e.getMessage());
    }
    return Behavior.newBuilder().setEventId(eventId).setUserId(userId).setTask(task.id()).setEventTime(eventTime)
        .setItemId(itemId).setFields(fields).build();
  }

  public Request request(String line) throws BadLineException {
    ObjectNode o = object(line, REQUEST_KEYS);
    String requestId = requiredText(o, "requestId");
    String userId = requiredText(o, "userId");
    Task task = task(o);
    String input = requiredText(o, "input");
    try {
      task.extract(input);
    } catch (LampInputException e) {
      throw new BadLineException("input: " + e.getMessage());
    }
    String mode = null;
    if (present(o, "mode")) {
      mode = mode(requiredText(o, "mode"));
    }
    Integer k = null;
    if (present(o, "k")) {
      JsonNode n = o.get("k");
      if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
        throw new BadLineException("k must be a positive integer, got " + n);
      }
      k = n.asInt();
    }
    Instant requestTime = present(o, "requestTime") ? instant(o, "requestTime") : clock.instant();
    Instant deadline = present(o, "deadline") ? instant(o, "deadline") : null;
    return Request.newBuilder().setRequestId(requestId).setUserId(userId).setTask(task.id()).setInput(input)
        .setMode(mode).setK(k).setRequestTime(requestTime).setDeadline(deadline).build();
  }

  private static ObjectNode object(String line, Set<String> allowed) throws BadLineException {
    if (line.length() > MAX_LINE_CHARS) {
      throw new BadLineException("line longer than " + MAX_LINE_CHARS + " characters");
    }
    JsonNode n;
    try {
      n = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new BadLineException("bad JSON: " + e.getOriginalMessage());
    }
    if (n == null || !n.isObject()) {
      throw new BadLineException("expected a JSON object, got " + (n == null ? "nothing" : n.getNodeType()));
    }
    List<String> unknown = new ArrayList<>();
    n.fieldNames().forEachRemaining(f -> {
      if (!allowed.contains(f)) {
        unknown.add(f);
      }
    });
    if (!unknown.isEmpty()) {
      throw new BadLineException("unknown key(s) " + unknown + " (allowed: " + new java.util.TreeSet<>(allowed) + ")");
    }
    return (ObjectNode) n;
  }

  /** Optional keys: absent and null mean the same. */
  private static boolean present(ObjectNode o, String key) {
    return o.has(key) && !o.get(key).isNull();
  }

  private static Task task(ObjectNode o) throws BadLineException {
    String t = requiredText(o, "task");
    try {
      return Task.of(t);
    } catch (LampInputException e) {
      throw new BadLineException(e.getMessage());
    }
  }

  private static String requiredText(ObjectNode o, String key) throws BadLineException {
    JsonNode n = o.get(key);
    if (n == null || n.isNull()) {
      throw new BadLineException("missing \"" + key + "\"");
    }
    if (!n.isTextual()) {
      throw new BadLineException("\"" + key + "\" must be a string, got " + n.getNodeType());
    }
    if (n.asText().isBlank()) {
      throw new BadLineException("\"" + key + "\" is empty");
    }
    return n.asText();
  }

  /** A string, or a number taken as its text (LaMP ids and scores appear both ways). */
  private static String scalarText(JsonNode n, String what) throws BadLineException {
    if (n.isTextual()) {
      return n.asText();
    }
    if (n.isNumber()) {
      return n.asText();
    }
    throw new BadLineException(what + " must be a string or a number, got " + n.getNodeType());
  }

  private static String scalarText(ObjectNode o, String key) throws BadLineException {
    return scalarText(o.get(key), "\"" + key + "\"");
  }

  private static Map<String, String> fields(ObjectNode o) throws BadLineException {
    JsonNode f = o.get("fields");
    if (f == null || f.isNull()) {
      throw new BadLineException("missing \"fields\"");
    }
    if (!f.isObject()) {
      throw new BadLineException("\"fields\" must be an object of strings, got " + f.getNodeType());
    }
    Map<String, String> out = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = f.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      out.put(e.getKey(), scalarText(e.getValue(), "field \"" + e.getKey() + "\""));
    }
    return out;
  }

  private static Instant instant(ObjectNode o, String key) throws BadLineException {
    JsonNode n = o.get(key);
    if (n.isIntegralNumber() && n.canConvertToLong()) {
      long ms = n.asLong();
      if (ms < 0) {
        throw new BadLineException("\"" + key + "\" must not be negative, got " + ms);
      }
      return Instant.ofEpochMilli(ms);
    }
    if (n.isTextual()) {
      String s = n.asText().trim();
      try {
        return Instant.parse(s);
      } catch (DateTimeParseException e) {
        try {
          return OffsetDateTime.parse(s).toInstant();
        } catch (DateTimeParseException e2) {
          throw new BadLineException("\"" + key + "\" is not ISO-8601 with an offset (e.g. 2024-05-01T10:00:00Z): '"
              + s + "'");
        }
      }
    }
    throw new BadLineException("\"" + key + "\" must be epoch milliseconds or an ISO-8601 string, got " + n);
  }

  private static String mode(String m) throws BadLineException {
    for (String known : MODES) {
      if (known.equalsIgnoreCase(m.trim())) {
        return known;
      }
    }
    throw new BadLineException("unknown mode '" + m + "' (expected one of " + MODES + ")");
  }

  /** A stable event id from the line's content: the same event written with other key order or spacing, same id. */
  static String derivedId(ObjectNode o) {
    try {
      byte[] canonical = JSON.writeValueAsBytes(canonical(o));
      byte[] h = MessageDigest.getInstance("SHA-256").digest(canonical);
      return "sha256-" + HexFormat.of().formatHex(h, 0, 16);
    } catch (JsonProcessingException | NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode canonical(JsonNode n) {
    if (n.isObject()) {
      TreeMap<String, JsonNode> sorted = new TreeMap<>();
      n.fields().forEachRemaining(e -> sorted.put(e.getKey(), canonical(e.getValue())));
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      sorted.forEach(out::set);
      return out;
    }
    if (n.isArray()) {
      var out = JsonNodeFactory.instance.arrayNode();
      n.forEach(e -> out.add(canonical(e)));
      return out;
    }
    return n;
  }
}
