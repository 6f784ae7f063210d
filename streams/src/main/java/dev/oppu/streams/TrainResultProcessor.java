package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.TrainResult;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.lucene.analysis.Analyzer;

/** TrainResults (keyed by user) clear the pending trigger they answer, and may trigger again at once. */
final class TrainResultProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
  private final AvroSerde<TrainResult> serde;
  private final IngestConfig config;
  private Analyzer analyzer;
  private IngestStores stores;

  TrainResultProcessor(AvroSerde<TrainResult> serde, IngestConfig config) {
    this.serde = serde;
    this.config = config;
  }

  @Override
  public void init(ProcessorContext<String, SpecificRecord> context) {
    super.init(context);
    analyzer = config.newAnalyzer();
    stores = new IngestStores(context, config, analyzer);
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    TrainResult r;
    try {
      if (rec.value() == null) {
        throw new LampInputException("null value on the train-results topic");
      }
      r = serde.decode(rec.value());
      UserDeletions.Marker fence = UserDeletions.marker(stores.deletions, r.getUserId());
      UserDeletions.Fence f = fence == null ? null : fence.fenced().get(r.getTriggerId());
      if (f != null) {
        // a training of a deleted user: answer the fence, keep the deleted train state deleted
        boolean published = r.getAccepted();
        boolean adapterSeen = f.adapterSeen()
            || (published && r.getVersion() != null && r.getVersion() <= f.versionAtDeletion());
        UserDeletions.save(stores.deletions, r.getUserId(), fence.with(r.getTriggerId(),
            new UserDeletions.Fence(f.versionAtDeletion(), true, published, adapterSeen)));
        return;
      }
      stores.triggers.onResult(r, rec.timestamp())
          .ifPresent(t -> context().forward(new Record<>(t.getUserId(), t, rec.timestamp())));
    } catch (SerializationException | LampInputException e) {
      context().forward(DeadLetters.of(context(), config.limits(), rec, "train result: " + e.getMessage()));
    }
  }

  @Override
  public void close() {
    analyzer.close();
  }
}
