package dev.oppu.streams;

import dev.oppu.schemas.HistoryItem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.util.SmallFloat;

/**
 * Top-k BM25 retrieval over one user's history, read from the ingestion stores (inside a processor of the same
 * application, or through interactive queries). Scores equal Lucene's {@code BM25Similarity} over the same documents:
 * float arithmetic in Lucene's order, no (k1+1) factor, document lengths through the 1-byte SmallFloat norm, avgdl =
 * sumTotalTermFreq / docCount, per-term scores summed in double and rounded to float, repeated query terms as one
 * clause with a summed boost (what BooleanQuery's rewrite does), ties by seq (older first = Lucene's doc-id order).
 */
public final class Bm25Retriever {

  /** One retrieved history item. */
  public record Hit(long seq, String itemId, Map<String, String> fields, float score) {}

  /** The three stores retrieval reads, by {@link IngestTopology} store names. */
  public record IndexStores(ReadOnlyKeyValueStore<Bytes, byte[]> postings, ReadOnlyKeyValueStore<Bytes, byte[]> stats,
      ReadOnlyKeyValueStore<Bytes, byte[]> history) {}

  private static final float[] LENGTH_TABLE = new float[256];

  static {
    for (int i = 0; i < 256; i++) {
      LENGTH_TABLE[i] = SmallFloat.byte4ToInt((byte) i);
    }
  }

  private final Analyzer analyzer;
  private final int maxQueryTerms;
  private final float k1;
  private final float b;

  public Bm25Retriever(Analyzer analyzer, int maxQueryTerms) {
    this(analyzer, maxQueryTerms, 1.2f, 0.75f);
  }

  public Bm25Retriever(Analyzer analyzer, int maxQueryTerms, float k1, float b) {
    this.analyzer = analyzer;
    this.maxQueryTerms = maxQueryTerms;
    this.k1 = k1;
    this.b = b;
  }

  /** The query's terms as retrieval uses them: analyzed, cut to the first {@code maxQueryTerms}. */
  public List<String> queryTerms(String query) {
    return TextAnalysis.terms(analyzer, query, maxQueryTerms);
  }

  /** The user's top-k items for the query, best first; empty when the user has no history for the task. */
  public List<Hit> topK(IndexStores stores, String userId, String task, String query, int k) {
    byte[] prefix = Keys.prefix(userId, task);
    IndexStats st = IndexStats.decode(stores.stats().get(Bytes.wrap(prefix)));
    if (st.docCount() == 0 || k <= 0) {
      return List.of();
    }
    Map<String, Integer> boosts = TextAnalysis.termFreqs(queryTerms(query));
    int nq = boosts.size();
    byte[][] qBytes = new byte[nq][];
    Map<String, Integer> termIndex = new java.util.HashMap<>(nq * 2);
    int qi = 0;
    for (String t : boosts.keySet()) {
      qBytes[qi] = t.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      termIndex.put(t, qi++);
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
        if (seq < first || seq >= next) {
          return; // evicted, or not yet committed to the statistics
        }
        int[] a = post[q];
        if (a == null) {
          a = post[q] = new int[48];
        } else if (len[q] + 3 > a.length) {
          a = post[q] = java.util.Arrays.copyOf(a, a.length * 2);
        }
        a[len[q]++] = (int) (seq - first);
        a[len[q]++] = tf;
        a[len[q]++] = norm;
      });
    }
    double[] acc = new double[n];
    boolean[] matched = new boolean[n];
    long docCount = st.docCount();
    float avgdl = (float) (st.sumTotalTermFreq() / (double) docCount);
    float[] normInverse = null;
    qi = 0;
    for (int boost : boosts.values()) {
      int q = qi++;
      int df = len[q] / 3;
      if (df == 0) {
        continue;
      }
      if (normInverse == null) {
        normInverse = new float[256];
        for (int i = 0; i < 256; i++) {
          normInverse[i] = 1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl));
        }
      }
      float idf = (float) Math.log(1 + (docCount - df + 0.5D) / (df + 0.5D));
      float weight = (float) boost * idf;
      int[] a = post[q];
      for (int i = 0; i < len[q]; i += 3) {
        int doc = a[i];
        float freq = a[i + 1];
        float s = weight - weight / (1f + freq * normInverse[a[i + 2]]);
        acc[doc] += s;
        matched[doc] = true;
      }
    }
    // Worst of the current top-k at the head: lower score, then newer seq.
    PriorityQueue<int[]> top = new PriorityQueue<>(k + 1, (x, y) -> {
      int c = Float.compare(Float.intBitsToFloat(x[1]), Float.intBitsToFloat(y[1]));
      return c != 0 ? c : Integer.compare(y[0], x[0]);
    });
    for (int d = 0; d < n; d++) {
      if (!matched[d]) {
        continue;
      }
      float score = (float) acc[d];
      if (top.size() < k) {
        top.add(new int[] {d, Float.floatToIntBits(score)});
      } else {
        int[] worst = top.peek();
        if (score > Float.intBitsToFloat(worst[1])) { // equal score: the older doc already there wins
          top.poll();
          top.add(new int[] {d, Float.floatToIntBits(score)});
        }
      }
    }
    List<int[]> ranked = new ArrayList<>(top);
    ranked.sort((x, y) -> {
      int c = Float.compare(Float.intBitsToFloat(y[1]), Float.intBitsToFloat(x[1]));
      return c != 0 ? c : Integer.compare(x[0], y[0]);
    });
    List<Hit> hits = new ArrayList<>(ranked.size());
    for (int[] r : ranked) {
      long seq = st.firstSeq() + r[0];
      byte[] bytes = stores.history().get(Keys.history(prefix, seq));
      if (bytes == null) {
        throw new IllegalStateException("index names seq " + seq + " of " + userId + "/" + task
            + " that the history does not hold");
      }
      HistoryItem item = HistoryIndex.ITEM_SERDE.decode(bytes);
      hits.add(new Hit(seq, item.getItemId(), new LinkedHashMap<>(item.getFields()), Float.intBitsToFloat(r[1])));
    }
    return hits;
  }
}
