package dev.oppu.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

  private static Behavior behavior() {
    return Behavior.newBuilder().setEventId("e-1").setUserId("u-7").setTask("LaMP_2M")
        .setEventTime(Instant.ofEpochMilli(1_700_000_000_123L)).setItemId("i-3")
        .setFields(Map.of("description", "a heist goes wrong", "tag", "action")).build();
  }

  @Test
  void roundTripThroughKafkaSerde() {
    AvroSerde<Behavior> serde = new AvroSerde<>(Behavior.class);
    Behavior b = behavior();
    byte[] bytes = serde.serializer().serialize("t", b);
    assertEquals(b, serde.deserializer().deserialize("t", bytes));
  }

  @Test
  void roundTripNestedRecords() {
    AvroSerde<TrainTrigger> serde = new AvroSerde<>(TrainTrigger.class);
    HistoryItem item = HistoryItem.newBuilder().setSeq(4).setEventId("e").setEventTime(Instant.ofEpochMilli(5))
        .setArrivalTime(Instant.ofEpochMilli(6)).setFields(Map.of("text", "x")).build();
    TrainTrigger t = TrainTrigger.newBuilder().setTriggerId("t").setUserId("u").setTask("LaMP_7").setVariant("plain")
        .setReason("first").setScore(3).setCreatedAt(Instant.ofEpochMilli(7)).setHistory(List.of(item))
        .setNewFromSeq(0).build();
    assertEquals(t, serde.decode(serde.encode(t)));
  }

  @Test
  void nullsPassThrough() {
    AvroSerde<Behavior> serde = new AvroSerde<>(Behavior.class);
    assertEquals(null, serde.serializer().serialize("t", null));
    assertEquals(null, serde.deserializer().deserialize("t", null));
  }

  @Test
  void garbageBytesGiveSerializationException() {
    AvroSerde<Behavior> serde = new AvroSerde<>(Behavior.class);
    Random rnd = new Random(1);
    for (int len : new int[] {0, 1, 2, 9, 10, 64}) {
      byte[] garbage = new byte[len];
      rnd.nextBytes(garbage);
      assertThrows(SerializationException.class, () -> serde.deserializer().deserialize("t", garbage), "len " + len);
    }
    byte[] good = serde.encode(behavior());
    byte[] truncated = java.util.Arrays.copyOf(good, good.length - 5);
    assertThrows(SerializationException.class, () -> serde.decode(truncated));
  }

  @Test
  void recordOfAnotherSchemaIsRejected() {
    byte[] request = new AvroSerde<>(Request.class).encode(Request.newBuilder().setRequestId("r").setUserId("u")
        .setTask("LaMP_2M").setInput("x").setRequestTime(Instant.EPOCH).build());
    assertThrows(SerializationException.class, () -> new AvroSerde<>(Behavior.class).decode(request));
  }
}
