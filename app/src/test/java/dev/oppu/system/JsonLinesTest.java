package dev.oppu.system;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JsonLinesTest {

  static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");
  final JsonLines p = new JsonLines(Clock.fixed(NOW, ZoneOffset.UTC));

  @Test
  void fullBehaviorLine() throws Exception {
    Behavior b = p.behavior("{\"eventId\":\"e1\",\"userId\":\"u1\",\"task\":\"LaMP_2M\",\"eventTime\":1700000000123,"
        + "\"itemId\":\"i9\",\"fields\":{\"description\":\"a heist film\",\"tag\":\"action\"}}");
    assertEquals("e1", b.getEventId());
    assertEquals("u1", b.getUserId());
    assertEquals("LaMP_2M", b.getTask());
    assertEquals(Instant.ofEpochMilli(1700000000123L), b.getEventTime());
    assertEquals("i9", b.getItemId());
    assertEquals(Map.of("description", "a heist film", "tag", "action"), b.getFields());
    assertEquals("u1", JsonLines.key(b));
  }

  @Test
  void optionalKeysAndTaskNamesAndIsoTimes() throws Exception {
    Behavior b = p.behavior("{\"userId\":\"u1\",\"task\":\"movie_tagging\","
        + "\"fields\":{\"description\":\"d\",\"tag\":\"comedy\"}}");
    assertEquals("LaMP_2M", b.getTask(), "task names map to the canonical id");
    assertEquals(NOW, b.getEventTime(), "no eventTime: now");
    assertNull(b.getItemId());
    assertTrue(b.getEventId().startsWith("sha256-"));
    Behavior nulls = p.behavior("{\"eventId\":null,\"userId\":\"u1\",\"task\":\"LaMP_2M\",\"eventTime\":null,"
        + "\"itemId\":null,\"fields\":{\"description\":\"d\",\"tag\":\"comedy\"}}");
    assertEquals(NOW, nulls.getEventTime(), "null optional keys count as absent");
    assertTrue(nulls.getEventId().startsWith("sha256-"));

    Behavior iso = p.behavior("{\"userId\":\"u\",\"task\":\"LaMP_3\",\"eventTime\":\"2024-05-01T12:00:00+02:00\","
        + "\"itemId\":42,\"fields\":{\"text\":\"great\",\"score\":5}}");
    assertEquals(Instant.parse("2024-05-01T10:00:00Z"), iso.getEventTime());
    assertEquals("42", iso.getItemId());
    assertEquals("5", iso.getFields().get("score"), "numbers are taken as text");
  }

  @Test
  void derivedEventIdIsStableUnderKeyOrderAndSpacingAndDiffersWithContent() throws Exception {
    String a = "{\"userId\":\"u1\",\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"comedy\"}}";
    String b = "{ \"fields\": {\"tag\":\"comedy\", \"description\":\"d\"}, \"task\":\"LaMP_2M\", \"userId\":\"u1\" }";
    String c = "{\"userId\":\"u2\",\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"comedy\"}}";
    assertEquals(p.behavior(a).getEventId(), p.behavior(b).getEventId());
    assertNotEquals(p.behavior(a).getEventId(), p.behavior(c).getEventId());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "bad JSON            | {\"userId\":\"u\",                                                        | bad JSON",
      "not an object       | [1,2]                                                                     | expected a JSON object",
      "missing userId      | {\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}}   | missing \"userId\"",
      "empty userId        | {\"userId\":\" \",\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | \"userId\" is empty",
      "numeric userId      | {\"userId\":7,\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | must be a string",
      "unknown task        | {\"userId\":\"u\",\"task\":\"LaMP_9\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | unknown task 'LaMP_9'",
      "missing task        | {\"userId\":\"u\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}}       | missing \"task\"",
      "missing fields      | {\"userId\":\"u\",\"task\":\"LaMP_2M\"}                                   | missing \"fields\"",
      "missing item field  | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\"}} | lacks field(s) [tag]",
      "nested field value  | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"fields\":{\"description\":{},\"tag\":\"t\"}} | field \"description\" must be a string or a number",
      "score out of range  | {\"userId\":\"u\",\"task\":\"LaMP_3\",\"fields\":{\"text\":\"x\",\"score\":\"9\"}} | outside 1..5",
      "misspelt key        | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"eventtime\":1,\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | unknown key(s) [eventtime]",
      "zone-less time      | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"eventTime\":\"2024-05-01T10:00\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | not ISO-8601 with an offset",
      "negative time       | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"eventTime\":-5,\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | must not be negative",
      "fractional time     | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"eventTime\":1.5,\"fields\":{\"description\":\"d\",\"tag\":\"t\"}} | epoch milliseconds or an ISO-8601",
  })
  void badBehaviorLinesSayWhy(String name, String line, String reason) {
    JsonLines.BadLineException e = assertThrows(JsonLines.BadLineException.class, () -> p.behavior(line));
    assertTrue(e.getMessage().contains(reason), "'" + e.getMessage() + "' should contain '" + reason + "'");
  }

  @Test
  void requestLine() throws Exception {
    Request r = p.request("{\"requestId\":\"r1\",\"userId\":\"u1\",\"task\":\"LaMP_2M\",\"input\":\"Which tag does this "
        + "movie relate to among the following tags? Just answer with the tag name without further explanation. tags: "
        + "[sci-fi, comedy] description: a robot falls in love\",\"mode\":\"oppu+rag\",\"k\":3,"
        + "\"deadline\":\"2026-01-02T03:05:00Z\"}");
    assertEquals("r1", r.getRequestId());
    assertEquals("LaMP_2M", r.getTask());
    assertEquals("OPPU+RAG", r.getMode(), "modes take their canonical spelling");
    assertEquals(3, r.getK());
    assertEquals(NOW, r.getRequestTime());
    assertEquals(Instant.parse("2026-01-02T03:05:00Z"), r.getDeadline());

    Request minimal = p.request("{\"requestId\":\"r2\",\"userId\":\"u1\",\"task\":\"LaMP_7\","
        + "\"input\":\"Paraphrase the following tweet without any explanation before or after it: hello world\"}");
    assertNull(minimal.getMode());
    assertNull(minimal.getK());
    assertNull(minimal.getDeadline());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "no marker      | {\"requestId\":\"r\",\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"a robot film\"} | lacks its marker",
      "no requestId   | {\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"x] description: y\"}              | missing \"requestId\"",
      "bad mode       | {\"requestId\":\"r\",\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"x] description: y\",\"mode\":\"magic\"} | unknown mode 'magic'",
      "k zero         | {\"requestId\":\"r\",\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"x] description: y\",\"k\":0} | k must be a positive integer",
      "k string       | {\"requestId\":\"r\",\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"x] description: y\",\"k\":\"3\"} | k must be a positive integer",
      "behavior keys  | {\"requestId\":\"r\",\"userId\":\"u\",\"task\":\"LaMP_2M\",\"input\":\"x] description: y\",\"fields\":{}} | unknown key(s) [fields]",
  })
  void badRequestLinesSayWhy(String name, String line, String reason) {
    JsonLines.BadLineException e = assertThrows(JsonLines.BadLineException.class, () -> p.request(line));
    assertTrue(e.getMessage().contains(reason), "'" + e.getMessage() + "' should contain '" + reason + "'");
  }

  @Test
  void kinds() {
    assertEquals(JsonLines.Kind.REQUESTS, JsonLines.Kind.of("Requests"));
    assertThrows(IllegalArgumentException.class, () -> JsonLines.Kind.of("adapters"));
  }
}
