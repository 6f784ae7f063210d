package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input to ingestion (issue 16): user, event and item ids over {@code oppu.ids.max.length} and user commands
 * with an oversize user id are dead-lettered, never stored; a dead letter keeps at most
 * {@code oppu.dead-letters.max.value.bytes} of the refused bytes, with their size and SHA-256.
 */
class HostileInputTest {
  @TempDir
  Path stateDir;

  private static IngestConfig config(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) {
      p.setProperty(kv[i], kv[i + 1]);
    }
    return IngestConfig.from(p).withInMemoryStores(true);
  }

  @Test
  void behaviorsWithAnIdOverTheDefaultLimitAreDeadLettered() {
    String longUser = "u".repeat(257);
    try (Driver d = new Driver(config(), stateDir)) {
      d.send(TestData.movie(longUser, "e1", "a robot story", "sci-fi"));
      d.send(TestData.movie("u1", "e".repeat(257), "a robot story", "sci-fi"));
      Behavior longItem = TestData.movie("u1", "e3", "a robot story", "sci-fi");
      longItem.setItemId("i".repeat(257));
      d.send(longItem);
      // at the limit: accepted
      Behavior atLimit = TestData.movie("v".repeat(256), "e".repeat(256), "a robot story", "sci-fi");
      atLimit.setItemId("i".repeat(256));
      d.send(atLimit);

      List<TestRecord<String, DeadLetter>> dead = d.deadLetters.readRecordsToList();
      assertEquals(3, dead.size(), "the three oversize ids, not the one at the limit");
      assertReason(dead.get(0), "userId of 257 characters exceeds the limit of 256 (oppu.ids.max.length)");
      assertNull(dead.get(0).getKey(), "an oversize user id is no record key");
      assertReason(dead.get(1), "eventId of 257 characters exceeds the limit of 256");
      assertEquals("u1", dead.get(1).getKey());
      assertReason(dead.get(2), "itemId of 257 characters exceeds the limit of 256");
      assertEquals(3.0, d.metric(IngestTopology.METRIC_DEAD_LETTERS));
      assertEquals(1, count(d.store(StoreNames.HISTORY_STORE)), "only the behavior at the limit is stored");
    }
  }

  @Test
  void theIdLimitIsConfigurable() {
    try (Driver d = new Driver(config(InputLimits.MAX_ID_LENGTH, "8"), stateDir)) {
      d.send(TestData.movie("user-123", "e1", "a robot story", "sci-fi"));
      d.send(TestData.movie("user-1234", "e1", "a robot story", "sci-fi"));
      List<DeadLetter> dead = d.deadLetters.readValuesToList();
      assertEquals(1, dead.size());
      assertTrue(dead.get(0).getReason().contains("userId of 9 characters exceeds the limit of 8"));
    }
  }

  @Test
  void aUserCommandWithAnOversizeUserIdIsDeadLetteredAndDeletesNothing() {
    String longUser = "u".repeat(300);
    try (Driver d = new Driver(config(), stateDir)) {
      d.send(TestData.movie("u1", "e1", "a robot story", "sci-fi"));
      d.commands.pipeInput(longUser, UserCommand.newBuilder().setCommandId("c1").setUserId(longUser)
          .setAction(UserAction.DELETE).setRequestedAt(Instant.ofEpochMilli(d.now())).build());
      List<TestRecord<String, DeadLetter>> dead = d.deadLetters.readRecordsToList();
      assertEquals(1, dead.size());
      assertReason(dead.get(0), "user command: userId of 300 characters exceeds the limit of 256");
      assertNull(dead.get(0).getKey());
      assertTrue(d.adapterOut.isEmpty(), "no deletion ran");
      assertEquals(1, count(d.store(StoreNames.HISTORY_STORE)));
    }
  }

  @Test
  void aDeadLetterKeepsAPrefixOfTheRefusedBytesWithTheirSizeAndSha256() {
    byte[] huge = new byte[200_000];
    new java.util.Random(5).nextBytes(huge);
    byte[] small = "not avro".getBytes(StandardCharsets.UTF_8);
    try (Driver d = new Driver(config(), stateDir)) {
      d.rawBehaviors.pipeInput("u1".getBytes(StandardCharsets.UTF_8), huge);
      d.rawBehaviors.pipeInput("u1".getBytes(StandardCharsets.UTF_8), small);
      List<DeadLetter> dead = d.deadLetters.readValuesToList();
      DeadLetter cut = dead.get(0);
      assertEquals(InputLimits.DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES, cut.getValue().remaining());
      assertArrayEquals(Arrays.copyOf(huge, InputLimits.DEFAULT_MAX_DEAD_LETTER_VALUE_BYTES), bytes(cut.getValue()));
      assertEquals(200_000L, cut.getOriginalSize());
      assertEquals(InputLimits.sha256(huge), cut.getOriginalSha256());
      assertTrue(cut.getTruncated());
      DeadLetter whole = dead.get(1);
      assertArrayEquals(small, bytes(whole.getValue()));
      assertEquals((long) small.length, whole.getOriginalSize());
      assertFalse(whole.getTruncated());
    }
    try (Driver d = new Driver(config(InputLimits.MAX_DEAD_LETTER_VALUE_BYTES, "10"), stateDir.resolve("b"))) {
      d.rawBehaviors.pipeInput("u1".getBytes(StandardCharsets.UTF_8), huge);
      DeadLetter cut = d.deadLetters.readValue();
      assertArrayEquals(Arrays.copyOf(huge, 10), bytes(cut.getValue()));
      assertEquals(InputLimits.sha256(huge), cut.getOriginalSha256());
    }
  }

  private static void assertReason(TestRecord<String, DeadLetter> r, String expected) {
    assertTrue(r.getValue().getReason().contains(expected), r.getValue().getReason());
  }

  private static int count(org.apache.kafka.streams.state.KeyValueStore<?, ?> store) {
    int n = 0;
    try (var it = store.all()) {
      while (it.hasNext()) {
        it.next();
        n++;
      }
    }
    return n;
  }

  private static byte[] bytes(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return out;
  }
}
