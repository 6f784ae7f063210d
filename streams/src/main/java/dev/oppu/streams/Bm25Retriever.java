package dev.oppu.streams;

import dev.oppu.schemas.HistoryItem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.lucene.analysis.Analyzer;

/**
 * Top-k BM25 retrieval over one user's history, read from the ingestion stores (inside a processor of the same
 * application, or through interactive queries), scored by {@link Bm25Scorer} (equal to Lucene's BM25Similarity);
 * ties by seq (older first = Lucene's doc-id order).
 */
public final class Bm25Retriever {

  /** One retrieved history item. */
  public record Hit(long seq, String itemId, Map<String, String> fields, float score) {}

  /** The three stores retrieval reads, by {@link IngestTopology} store names. */
  public record IndexStores(ReadOnlyKeyValueStore<Bytes, byte[]> postings, ReadOnlyKeyValueStore<Bytes, byte[]> stats,
      ReadOnlyKeyValueStore<Bytes, byte[]> history) {}

  private final Bm25Scorer scorer;

  public Bm25Retriever(Analyzer analyzer, int maxQueryTerms) {
    this(new Bm25Scorer(analyzer, maxQueryTerms));
  }

  public Bm25Retriever(Bm25Scorer scorer) {
    this.scorer = scorer;
  }

  /** The query's terms as retrieval uses them: analyzed, cut to the first {@code maxQueryTerms}. */
  public List<String> queryTerms(String query) {
    return scorer.queryTerms(query);
  }

  /** The user's top-k items for the query, best first; empty when the user has no history for the task. */
  public List<Hit> topK(IndexStores stores, String userId, String task, String query, int k) {
    byte[] prefix = Keys.prefix(userId, task);
    IndexStats st = IndexStats.decode(stores.stats().get(Bytes.wrap(prefix)));
    if (st.docCount() == 0 || k <= 0) {
      return List.of();
    }
    Map<String, Integer> boosts = scorer.queryBoosts(query);
    int nq = boosts.size();
    byte[][] qBytes = new byte[nq][];
    int[] boost = new int[nq];
    Map<String, Integer> termIndex = new java.util.HashMap<>(nq * 2);
    int qi = 0;
    for (Map.Entry<String, Integer> t : boosts.entrySet()) {
      qBytes[qi] = t.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      boost[qi] = t.getValue();
      termIndex.put(t.getKey(), qi++);
    }
    int n = (int) st.retained();
    long first = st.firstSeq();
    long next = st.nextSeq();
    // Postings of each query term over the retained documents: (doc, tf, norm) triples.
    int[][] post = new int[nq][];
    int[] len = new int[nq];
    for (long seg = Segments.segmentOf(first); seg <= Segments.segmentOf(next - 1); seg++) {
      byte[] bytes = stores.postings().get(Keys.segment(prefix, seg));
      if (bytes == null) {
        continue;
      }
      Segments.lookup(bytes, qBytes, termIndex, (q, seq, tf, norm) -> {
        if (seq >= first && seq < next) { // else evicted, or not yet committed to the statistics
          Bm25Scorer.addPosting(post, len, q, (int) (seq - first), tf, norm);
        }
      });
    }
    List<Bm25Scorer.Ranked> ranked = scorer.topK(n, st.docCount(), st.sumTotalTermFreq(), boost, post, len, k);
    List<Hit> hits = new ArrayList<>(ranked.size());
    for (Bm25Scorer.Ranked r : ranked) {
      long seq = st.firstSeq() + r.doc();
      byte[] bytes = stores.history().get(Keys.history(prefix, seq));
      if (bytes == null) {
        throw new IllegalStateException("index names seq " + seq + " of " + userId + "/" + task
            + " that the history does not hold");
      }
      HistoryItem item = HistoryIndex.ITEM_SERDE.decode(bytes);
      hits.add(new Hit(seq, item.getItemId(), new LinkedHashMap<>(item.getFields()), r.score()));
    }
    return hits;
  }
}
