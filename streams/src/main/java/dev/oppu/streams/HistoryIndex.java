package dev.oppu.streams;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.HistoryItem;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.BytesSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.lucene.analysis.Analyzer;

/**
 * Keeps one task's stores consistent: the bounded per-(user, task) history (logged) and its BM25 inverted index
 * (unlogged: segments and collection statistics). An append rewrites only the user's open segment (O(its size), one
 * read and one write however many terms the item has); an eviction updates the statistics and drops a segment once
 * all its documents are out. Nothing is rebuilt per event.
 */
public final class HistoryIndex {
  static final AvroSerde<HistoryItem> ITEM_SERDE = new AvroSerde<>(HistoryItem.class);
  private static final BytesSerializer BYTES = new BytesSerializer();

  private final KeyValueStore<Bytes, byte[]> history;
  private final KeyValueStore<Bytes, byte[]> meta;
  private final KeyValueStore<Bytes, byte[]> postings;
  private final KeyValueStore<Bytes, byte[]> stats;
  private final KeyValueStore<Bytes, byte[]> dedup;
  private final Analyzer analyzer;
  private final int maxHistory;

  public HistoryIndex(KeyValueStore<Bytes, byte[]> history, KeyValueStore<Bytes, byte[]> meta,
      KeyValueStore<Bytes, byte[]> postings, KeyValueStore<Bytes, byte[]> stats, Analyzer analyzer, int maxHistory) {
    this(history, meta, postings, stats, null, analyzer, maxHistory);
  }

  /** {@code dedup} (may be null): its event-id entries are deleted with the history items they belong to. */
  HistoryIndex(KeyValueStore<Bytes, byte[]> history, KeyValueStore<Bytes, byte[]> meta,
      KeyValueStore<Bytes, byte[]> postings, KeyValueStore<Bytes, byte[]> stats, KeyValueStore<Bytes, byte[]> dedup,
      Analyzer analyzer, int maxHistory) {
    this.dedup = dedup;
    this.history = history;
    this.meta = meta;
    this.postings = postings;
    this.stats = stats;
    this.analyzer = analyzer;
    this.maxHistory = maxHistory;
  }

  /** Appends the item (its seq is assigned here), indexes it, and evicts beyond the bound. Returns the stored item. */
  public HistoryItem append(Task task, String userId, HistoryItem.Builder item, TextAnalysis.Analyzed indexed) {
    byte[] prefix = Keys.prefix(userId, task.id());
    Bytes metaKey = Bytes.wrap(prefix);
    IndexStats range = IndexStats.decode(meta.get(metaKey));
    IndexStats st = IndexStats.decode(stats.get(metaKey));
    long seq = range.nextSeq();
    HistoryItem stored = item.setSeq(seq).build();
    history.put(Keys.history(prefix, seq), ITEM_SERDE.encode(stored));
    st = indexDoc(prefix, seq, indexed, new IndexStats(st.firstSeq(), seq + 1, st.docCount(), st.sumTotalTermFreq()));
    long first = range.firstSeq();
    while (seq + 1 - first > maxHistory) {
      st = evict(task, prefix, first, st);
      first++;
    }
    IndexStats newRange = new IndexStats(first, seq + 1, 0, 0);
    meta.put(metaKey, newRange.encodeRange());
    stats.put(metaKey, new IndexStats(first, seq + 1, st.docCount(), st.sumTotalTermFreq()).encode());
    return stored;
  }

  /** The retained seq range of a (user, task): the logged truth. */
  public IndexStats range(String userId, String task) {
    return IndexStats.decode(meta.get(Bytes.wrap(Keys.prefix(userId, task))));
  }

  /** Retained items with {@code fromSeq <= seq < toSeq}, oldest first. */
  public List<HistoryItem> items(String userId, String task, long fromSeq, long toSeq) {
    return items(history, Keys.prefix(userId, task), fromSeq, toSeq);
  }

  static List<HistoryItem> items(ReadOnlyKeyValueStore<Bytes, byte[]> history, byte[] prefix, long fromSeq,
      long toSeq) {
    List<HistoryItem> out = new ArrayList<>();
    if (toSeq <= fromSeq) {
      return out;
    }
    try (KeyValueIterator<Bytes, byte[]> it = history.range(Keys.history(prefix, fromSeq),
        Keys.history(prefix, toSeq - 1))) {
      while (it.hasNext()) {
        out.add(ITEM_SERDE.decode(it.next().value));
      }
    }
    return out;
  }

  /**
   * Makes the index agree with the logged history: after a restore (the unlogged index stores start empty, or hold
   * writes of an aborted transaction) every (user, task) whose index range differs from its history is re-indexed.
   * Returns how many were rebuilt.
   */
  public int reconcile() {
    List<KeyValue<Bytes, byte[]>> ranges = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = meta.all()) {
      it.forEachRemaining(ranges::add);
    }
    int rebuilt = 0;
    for (KeyValue<Bytes, byte[]> kv : ranges) {
      IndexStats truth = IndexStats.decode(kv.value);
      if (!truth.sameRange(IndexStats.decode(stats.get(kv.key)))) {
        rebuild(kv.key.get(), truth);
        rebuilt++;
      }
    }
    List<Bytes> orphans = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = stats.all()) {
      while (it.hasNext()) {
        Bytes k = it.next().key;
        if (meta.get(k) == null) {
          orphans.add(k);
        }
      }
    }
    for (Bytes k : orphans) {
      dropIndex(k.get());
      rebuilt++;
    }
    return rebuilt;
  }

  private void rebuild(byte[] prefix, IndexStats truth) {
    dropIndex(prefix);
    Task task = Task.of(taskOf(prefix));
    IndexStats st = new IndexStats(truth.firstSeq(), truth.nextSeq(), 0, 0);
    for (HistoryItem item : items(history, prefix, truth.firstSeq(), truth.nextSeq())) {
      st = indexDoc(prefix, item.getSeq(), TextAnalysis.analyze(analyzer, item.getFields().get(task.inputField())), st);
    }
    stats.put(Bytes.wrap(prefix), st.encode());
  }

  private void dropIndex(byte[] prefix) {
    List<Bytes> keys = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = postings.prefixScan(Bytes.wrap(prefix), BYTES)) {
      it.forEachRemaining(kv -> keys.add(kv.key));
    }
    for (Bytes k : keys) {
      postings.delete(k);
    }
    stats.delete(Bytes.wrap(prefix));
  }

  private IndexStats indexDoc(byte[] prefix, long seq, TextAnalysis.Analyzed doc, IndexStats st) {
    Bytes key = Keys.segment(prefix, Segments.segmentOf(seq));
    byte[] open = seq % Segments.SIZE == 0 ? null : postings.get(key);
    Segments.Doc d = new Segments.Doc(Bm25Scorer.norm(doc), doc.terms().size(),
        TextAnalysis.termFreqs(doc.terms()));
    postings.put(key, Segments.append(open, seq, d));
    return new IndexStats(st.firstSeq(), st.nextSeq(), st.docCount() + 1, st.sumTotalTermFreq() + doc.terms().size());
  }

  /** Evicts the oldest item: its length leaves the statistics; its segment goes once its last document is out. */
  private IndexStats evict(Task task, byte[] prefix, long seq, IndexStats st) {
    Bytes segKey = Keys.segment(prefix, Segments.segmentOf(seq));
    byte[] seg = postings.get(segKey);
    int length = seg == null ? 0 : Segments.length(seg, seq);
    if ((seq + 1) % Segments.SIZE == 0) {
      postings.delete(segKey);
    }
    byte[] evicted = history.delete(Keys.history(prefix, seq));
    if (dedup != null && evicted != null) {
      dedup.delete(Keys.dedup(userOf(prefix), ITEM_SERDE.decode(evicted).getEventId()));
    }
    return new IndexStats(seq + 1, st.nextSeq(), st.docCount() - 1, st.sumTotalTermFreq() - length);
  }

  private static String userOf(byte[] prefix) {
    int a = 0;
    while (prefix[a] != 0) {
      a++;
    }
    return new String(prefix, 0, a, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static String taskOf(byte[] prefix) {
    int a = 0;
    while (prefix[a] != 0) {
      a++;
    }
    return new String(prefix, a + 1, prefix.length - a - 2, java.nio.charset.StandardCharsets.UTF_8);
  }
}
