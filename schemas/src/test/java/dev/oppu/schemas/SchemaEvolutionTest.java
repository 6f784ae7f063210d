package dev.oppu.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.RandomData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Every released version of every schema is kept under the schemas module's resources
 * ({@code schemas/<Name>/vN.avsc}, which {@link AvroSerde} registers at runtime); the current generated class must
 * read data written with each of them. A breaking change to an .avsc fails here.
 */
class SchemaEvolutionTest {

  record Kept(String name, String version, Schema writer) {
    @Override
    public String toString() {
      return name + "/" + version;
    }
  }

  static Stream<Kept> keptVersions() throws IOException, URISyntaxException {
    Path root = Path.of(SchemaEvolutionTest.class.getResource("/schemas").toURI());
    List<Kept> out = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path dir : dirs.sorted().toList()) {
        try (Stream<Path> files = Files.list(dir)) {
          for (Path f : files.sorted().toList()) {
            try (InputStream in = Files.newInputStream(f)) {
              Schema writer = new Schema.Parser().parse(in);
              out.add(new Kept(dir.getFileName().toString(), f.getFileName().toString().replace(".avsc", ""), writer));
            }
          }
        }
      }
    }
    return out.stream();
  }

  @Test
  void everyCurrentSchemaHasAKeptFirstVersion() throws Exception {
    List<String> kept = keptVersions().filter(k -> k.version().equals("v1")).map(Kept::name).toList();
    for (String name : List.of("AdapterVersion", "Behavior", "DeadLetter", "Request", "Response", "TrainResult",
        "TrainTrigger", "UserCommand")) {
      assertTrue(kept.contains(name), "no kept v1 of " + name);
    }
  }

  /** A schema change keeps its new version too, so the runtime serde knows every version ever written. */
  @Test
  void theLatestKeptVersionIsTheCurrentSchema() throws Exception {
    for (String name : List.of("AdapterVersion", "Behavior", "DeadLetter", "Request", "Response", "TrainResult",
        "TrainTrigger", "UserCommand")) {
      List<Schema> kept = AvroSerde.keptVersions(currentClass(name));
      assertFalse(kept.isEmpty(), name);
      // single-object encoding identifies a schema by this fingerprint (of its parsing canonical form)
      assertEquals(SchemaNormalization.parsingFingerprint64(SpecificData.get().getSchema(currentClass(name))),
          SchemaNormalization.parsingFingerprint64(kept.get(kept.size() - 1)),
          name + ": add the current schema as the next kept version");
    }
  }

  /** The topics' serde decodes a dead letter of v1 (before the size and SHA-256 fields) with nothing registered. */
  @Test
  void topicsSerdeReadsAVersion1DeadLetter() {
    Schema v1 = AvroSerde.keptVersions(DeadLetter.class).get(0);
    GenericRecord old = new GenericData.Record(v1);
    old.put("sourceTopic", "oppu.requests");
    old.put("partition", 0);
    old.put("offset", 7L);
    old.put("key", null);
    old.put("value", ByteBuffer.wrap(new byte[] {1, 2, 3}));
    old.put("reason", "bad request");
    old.put("time", 1_000L);
    ByteBuffer buf;
    try {
      buf = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    byte[] bytes = new byte[buf.remaining()];
    buf.get(bytes);
    DeadLetter dl = Topics.defaults().deadLetters.valueSerde().deserializer().deserialize("t", bytes);
    assertEquals("bad request", dl.getReason());
    assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3}), dl.getValue());
    assertEquals(null, dl.getOriginalSize());
    assertEquals(null, dl.getOriginalSha256());
    assertFalse(dl.getTruncated());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("keptVersions")
  void currentSchemaIsCompatibleWithKeptVersion(Kept kept) throws Exception {
    Class<? extends SpecificRecord> type = currentClass(kept.name());
    Schema reader = SpecificData.get().getSchema(type);
    SchemaCompatibility.SchemaPairCompatibility compat =
        SchemaCompatibility.checkReaderWriterCompatibility(reader, kept.writer());
    assertEquals(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE, compat.getType(),
        kept + " is not readable by the current schema: " + compat.getDescription());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("keptVersions")
  @SuppressWarnings({"unchecked", "rawtypes"})
  void currentSerdeDecodesRecordsWrittenWithKeptVersion(Kept kept) throws Exception {
    Class<? extends SpecificRecord> type = currentClass(kept.name());
    AvroSerde serde = new AvroSerde(type).withOlderSchema(kept.writer());
    BinaryMessageEncoder<GenericRecord> oldWriter = new BinaryMessageEncoder<>(GenericData.get(), kept.writer());
    int n = 0;
    for (Object datum : new RandomData(kept.writer(), 50, 42L)) {
      GenericRecord written = (GenericRecord) datum;
      ByteBuffer buf = oldWriter.encode(written);
      byte[] bytes = new byte[buf.remaining()];
      buf.get(bytes);
      SpecificRecord read = (SpecificRecord) serde.decode(bytes);
      Schema current = read.getSchema();
      // Every field the old writer had must come through unchanged (compared in generic form).
      for (Schema.Field f : kept.writer().getFields()) {
        Schema.Field cf = current.getField(f.name());
        assertFalse(cf == null, kept + ": field " + f.name() + " was removed");
        Object expected = written.get(f.name());
        Object actual = read.get(cf.pos());
        assertEquals(normalize(expected), normalize(actual), kept + ": field " + f.name());
      }
      n++;
    }
    assertEquals(50, n);
  }

  /** Generic (Utf8, Long millis) and specific (String, Instant) forms of the same value compare equal. */
  private static Object normalize(Object v) {
    if (v == null) {
      return null;
    }
    if (v instanceof CharSequence cs) {
      return cs.toString();
    }
    if (v instanceof java.time.Instant i) {
      return i.toEpochMilli();
    }
    if (v instanceof ByteBuffer b) {
      ByteBuffer d = b.duplicate();
      byte[] out = new byte[d.remaining()];
      d.get(out);
      return java.util.HexFormat.of().formatHex(out);
    }
    if (v instanceof java.util.Map<?, ?> m) {
      java.util.TreeMap<String, Object> out = new java.util.TreeMap<>();
      m.forEach((k, x) -> out.put(k.toString(), normalize(x)));
      return out;
    }
    if (v instanceof java.util.List<?> l) {
      return l.stream().map(SchemaEvolutionTest::normalize).toList();
    }
    if (v instanceof org.apache.avro.generic.IndexedRecord r) {
      java.util.TreeMap<String, Object> out = new java.util.TreeMap<>();
      for (Schema.Field f : r.getSchema().getFields()) {
        out.put(f.name(), normalize(r.get(f.pos())));
      }
      return out;
    }
    return v;
  }

  @SuppressWarnings("unchecked")
  private static Class<? extends SpecificRecord> currentClass(String name) throws ClassNotFoundException {
    return (Class<? extends SpecificRecord>) Class.forName("dev.oppu.schemas." + name);
  }
}
