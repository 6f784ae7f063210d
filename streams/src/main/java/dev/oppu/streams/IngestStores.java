package dev.oppu.streams;

import dev.oppu.schemas.StoreNames;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.lucene.analysis.Analyzer;

/** The ingestion stores as one processor sees them, and the logic built on them. */
final class IngestStores {
  final KeyValueStore<Bytes, byte[]> history;
  final KeyValueStore<Bytes, byte[]> meta;
  final KeyValueStore<Bytes, byte[]> postings;
  final KeyValueStore<Bytes, byte[]> stats;
  final KeyValueStore<Bytes, byte[]> trainState;
  /** Deletion fences (see {@link UserDeletions}). */
  final KeyValueStore<Bytes, byte[]> deletions;
  final HistoryIndex index;
  final Triggers triggers;

  IngestStores(ProcessorContext<?, ?> ctx, IngestConfig config, Analyzer analyzer) {
    this(ctx, config, analyzer, null);
  }

  /** {@code dedup}: the dedup store when the processor is connected to it (entries leave with evicted items). */
  IngestStores(ProcessorContext<?, ?> ctx, IngestConfig config, Analyzer analyzer,
      KeyValueStore<Bytes, byte[]> dedup) {
    history = ctx.getStateStore(StoreNames.HISTORY_STORE);
    meta = ctx.getStateStore(StoreNames.HISTORY_META_STORE);
    postings = ctx.getStateStore(StoreNames.POSTINGS_STORE);
    stats = ctx.getStateStore(StoreNames.INDEX_STATS_STORE);
    trainState = ctx.getStateStore(StoreNames.TRAIN_STATE_STORE);
    deletions = ctx.getStateStore(StoreNames.USER_DELETIONS_STORE);
    index = new HistoryIndex(history, meta, postings, stats, dedup, analyzer, config.maxHistory());
    triggers = new Triggers(index, trainState, deletions, config, analyzer);
  }
}
