package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile requests (issue 16): ids over the length limit are dead-lettered without an error response that would echo
 * them; a huge request is dead-lettered with a bounded prefix of its bytes, its size and SHA-256.
 */
class HostileRequestTest {
  private static final Instant T0 = Instant.parse("2026-01-05T12:00:00Z");
  private final Topics topics = Topics.defaults();
  private final AvroSerde<Request> requestSerde = new AvroSerde<>(Request.class);
  private ServingDriver serving;
  private TestInputTopic<String, byte[]> requests;
  private TestOutputTopic<String, Response> responses;
  private TestOutputTopic<String, DeadLetter> deadLetters;

  @TempDir
  Path stateDir;

  private void start(ServingConfig config) {
    serving = new ServingDriver(config, new FakeGenerator(), new AdapterCache(8, 1 << 20), new MapUserData(),
        Clock.fixed(T0, ZoneOffset.UTC), T0, stateDir);
    requests = serving.requests;
    responses = serving.responses;
    deadLetters = serving.deadLetters;
  }

  @AfterEach
  void close() {
    if (serving != null) {
      serving.close();
    }
  }

  private static Properties props(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) {
      p.setProperty(kv[i], kv[i + 1]);
    }
    return p;
  }

  @Test
  void requestAndUserIdsOverTheLimitAreDeadLetteredWithoutAnErrorResponse() {
    start(ServingConfig.from(props(InputLimits.MAX_ID_LENGTH, "16")).withMaxBatch(1));
    String longUser = "u".repeat(17);
    String text = input(Task.NEWS_HEADLINE, "storm");
    requests.pipeInput(longUser, requestSerde.encode(request("r1", longUser, Task.NEWS_HEADLINE, text, "OPPU")));
    requests.pipeInput("u1", requestSerde.encode(request("r".repeat(17), "u1", Task.NEWS_HEADLINE, text, "OPPU")));
    // at the limit: accepted and answered
    String edgeUser = "e".repeat(16);
    requests.pipeInput(edgeUser, requestSerde.encode(request("q".repeat(16), edgeUser, Task.NEWS_HEADLINE, text,
        "OPPU")));

    List<TestRecord<String, DeadLetter>> dead = deadLetters.readRecordsToList();
    assertEquals(2, dead.size());
    assertTrue(dead.get(0).getValue().getReason().contains("userId of 17 characters exceeds the limit of 16"),
        dead.get(0).getValue().getReason());
    assertNull(dead.get(0).getKey(), "an oversize user id is no record key");
    assertTrue(dead.get(1).getValue().getReason().contains("requestId of 17 characters exceeds the limit of 16"),
        dead.get(1).getValue().getReason());
    assertEquals("u1", dead.get(1).getKey(), "keyed by its (valid) user");
    List<Response> answered = responses.readValuesToList();
    assertEquals(1, answered.size(), "no error response echoes an oversize id: " + answered);
    assertEquals("q".repeat(16), answered.get(0).getRequestId());
    assertNull(answered.get(0).getError());
  }

  @Test
  void theDefaultIdLimitIs256Characters() {
    start(ServingConfig.defaults().withMaxBatch(1));
    String text = input(Task.NEWS_HEADLINE, "storm");
    requests.pipeInput("u1", requestSerde.encode(request("r".repeat(257), "u1", Task.NEWS_HEADLINE, text, "OPPU")));
    requests.pipeInput("u1", requestSerde.encode(request("r".repeat(256), "u1", Task.NEWS_HEADLINE, text, "OPPU")));
    assertEquals(1, deadLetters.readValuesToList().size());
    assertEquals(List.of("r".repeat(256)), responses.readValuesToList().stream().map(Response::getRequestId).toList());
  }

  /** The case: a 10 MB request is refused, and its dead letter keeps 64 KiB of it plus size and SHA-256. */
  @Test
  void aTenMegabyteRequestIsDeadLetteredWithABoundedPrefixItsSizeAndSha256() {
    start(ServingConfig.defaults().withMaxBatch(1));
    Request huge = request("big", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "w".repeat(10 << 20)), "OPPU");
    byte[] bytes = requestSerde.encode(huge);
    assertTrue(bytes.length > 10 << 20);
    requests.pipeInput("u1", bytes);

    Response error = responses.readValue();
    assertEquals("big", error.getRequestId());
    assertTrue(error.getError().contains("exceeds the limit"), error.getError());
    TestRecord<String, DeadLetter> rec = deadLetters.readRecord();
    assertTrue(deadLetters.isEmpty());
    DeadLetter dl = rec.getValue();
    assertEquals("u1", rec.getKey());
    int prefix = InputLimits.DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES;
    assertEquals(prefix, dl.getValue().remaining(), "at most the configured prefix");
    assertArrayEquals(Arrays.copyOf(bytes, prefix), remaining(dl.getValue()), "the prefix of the original bytes");
    assertEquals((long) bytes.length, dl.getOriginalSize());
    assertEquals(InputLimits.sha256(bytes), dl.getOriginalSha256());
    assertTrue(dl.getTruncated());
    assertTrue(topics.deadLetters.valueSerde().serializer().serialize("t", dl).length < prefix + 2048,
        "the whole dead letter is small");
  }

  @Test
  void theDeadLetterPrefixIsConfigurableAndASmallRequestIsKeptWhole() {
    start(ServingConfig.from(props(InputLimits.MAX_DEAD_LETTER_VALUE_BYTES, "100")).withMaxBatch(1));
    byte[] garbage = new byte[1000];
    Arrays.fill(garbage, (byte) 7);
    requests.pipeInput("u1", garbage);
    byte[] small = "not avro".getBytes();
    requests.pipeInput("u1", small);
    List<DeadLetter> dead = deadLetters.readValuesToList();
    assertEquals(100, dead.get(0).getValue().remaining());
    assertEquals(1000L, dead.get(0).getOriginalSize());
    assertTrue(dead.get(0).getTruncated());
    assertArrayEquals(small, remaining(dead.get(1).getValue()));
    assertEquals((long) small.length, dead.get(1).getOriginalSize());
    assertEquals(InputLimits.sha256(small), dead.get(1).getOriginalSha256());
    assertFalse(dead.get(1).getTruncated());
  }

  private static byte[] remaining(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return out;
  }
}
