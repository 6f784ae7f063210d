package dev.oppu.schemas;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Registry-free Avro serde: Avro's single-object encoding (2-byte marker, 8-byte schema fingerprint, binary body).
 * The decoder resolves a record by its writer schema's fingerprint, so it decodes only schemas it knows: the current
 * one, every released version kept as a resource {@code /schemas/<SimpleName>/v1.avsc, v2.avsc, ...} (registered
 * here at construction), and any registered with {@link #withOlderSchema}. A record written with a kept older version
 * therefore still decodes after a compatible change; a record of a version that was not kept is refused as
 * "unknown schema". Every schema change must add its new version to those resources (SchemaEvolutionTest checks
 * each kept version against the current schema).
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {
  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;

  public AvroSerde(Class<T> type) {
    SpecificData model = SpecificData.getForClass(type);
    org.apache.avro.Schema schema = SpecificData.get().getSchema(type);
    this.encoder = new BinaryMessageEncoder<>(model, schema);
    this.decoder = new BinaryMessageDecoder<>(model, schema);
    for (org.apache.avro.Schema kept : keptVersions(type)) {
      decoder.addSchema(kept);
    }
  }

  /** The released versions of {@code type}'s schema, kept as resources {@code /schemas/<Name>/vN.avsc}, N = 1, 2... */
  public static java.util.List<org.apache.avro.Schema> keptVersions(Class<?> type) {
    java.util.List<org.apache.avro.Schema> out = new java.util.ArrayList<>();
    for (int n = 1; ; n++) {
      try (java.io.InputStream in = AvroSerde.class.getResourceAsStream(
          "/schemas/" + type.getSimpleName() + "/v" + n + ".avsc")) {
        if (in == null) {
          return out;
        }
        out.add(new org.apache.avro.Schema.Parser().parse(in));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** Lets this serde read records written with an older (compatible) writer schema. */
  public AvroSerde<T> withOlderSchema(org.apache.avro.Schema writerSchema) {
    decoder.addSchema(writerSchema);
    return this;
  }

  public byte[] encode(T value) {
    try {
      ByteBuffer buf = encoder.encode(value);
      byte[] out = new byte[buf.remaining()];
      buf.get(out);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Decodes, or throws {@link SerializationException} with the reason (bad marker, unknown schema, truncated). */
  public T decode(byte[] bytes) {
    try {
      return decoder.decode(bytes);
    } catch (IOException | RuntimeException e) {
      throw new SerializationException("not a valid Avro single-object record: " + e.getMessage(), e);
    }
  }

  @Override
  public Serializer<T> serializer() {
    return (topic, value) -> value == null ? null : encode(value);
  }

  @Override
  public Deserializer<T> deserializer() {
    return (topic, bytes) -> bytes == null ? null : decode(bytes);
  }
}
