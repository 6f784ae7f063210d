package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.lucene.analysis.Analyzer;

/**
 * The adapters topic is keyed by user|task|variant, not by user: {@link Rekey} strips the weights and re-keys by user
 * (then the stream is repartitioned to meet the user's other state), {@link Apply} records what the adapter was
 * trained on.
 */
final class AdapterProcessors {
  private AdapterProcessors() {}

  static final AvroSerde<AdapterVersion> SLIM = new AvroSerde<>(AdapterVersion.class);

  /** Decodes, drops the weights, re-keys by user id; a tombstone becomes a version -1 marker (adapter deleted). */
  static final class Rekey extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    private final AvroSerde<AdapterVersion> serde;

    Rekey(AvroSerde<AdapterVersion> serde) {
      this.serde = serde;
    }

    @Override
    public void process(Record<byte[], byte[]> rec) {
      try {
        AdapterVersion a;
        if (rec.value() == null) {
          a = deletedMarker(rec.key());
        } else {
          a = serde.decode(rec.value());
          Task.of(a.getTask());
          a.setWeights(null);
        }
        context().forward(new Record<>(a.getUserId(), a, rec.timestamp()));
      } catch (SerializationException | LampInputException e) {
        context().forward(DeadLetters.of(context(), rec, "adapter version: " + e.getMessage()));
      }
    }

    private static AdapterVersion deletedMarker(byte[] key) {
      String k = key == null ? "" : new String(key, StandardCharsets.UTF_8);
      int v = k.lastIndexOf('|');
      int t = v > 0 ? k.lastIndexOf('|', v - 1) : -1;
      if (t <= 0) {
        throw new LampInputException("adapter tombstone with a key that is not user|task|variant");
      }
      return AdapterVersion.newBuilder().setUserId(k.substring(0, t)).setTask(k.substring(t + 1, v))
          .setVariant(k.substring(v + 1)).setVersion(-1).setTriggerId("").setCoveredSeq(-1).setItemsTrained(0)
          .setLossBefore(0).setLossAfter(0).setTrainMillis(0).setPublishedAt(Instant.EPOCH).setBaseFingerprint("")
          .setTaskFingerprint("").setAdapterConfig("").setWeightsSha256("").setLabelDistribution(Map.of()).build();
    }
  }

  /** After the repartition: updates the (user, task, variant) train state. */
  static final class Apply extends ContextualProcessor<String, byte[], String, SpecificRecord> {
    private final IngestConfig config;
    private Analyzer analyzer;
    private IngestStores stores;

    Apply(IngestConfig config) {
      this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
      super.init(context);
      analyzer = config.newAnalyzer();
      stores = new IngestStores(context, config, analyzer);
    }

    @Override
    public void process(Record<String, byte[]> rec) {
      stores.triggers.onAdapter(SLIM.decode(rec.value()));
    }

    @Override
    public void close() {
      analyzer.close();
    }
  }
}
