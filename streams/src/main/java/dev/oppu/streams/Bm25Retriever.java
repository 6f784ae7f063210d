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

  /**
   * Per-thread buffers of a query, reused by the next one on the same thread (a retriever may be shared by threads):
   * the segments read, each sealed segment's offset of each query term's postings, per-document score sums.
   */
  private static final class Scratch implements Segments.PostingSink {
    byte[][] segs = new byte[64][];
    int[] postingsAt = new int[64 * 64];
    int[] df = new int[64];
    int[] boost = new int[64];
    byte[][] qBytes = new byte[64][];
    int[] qHash = new int[64];
    double[] acc = new double[1024];
    boolean[] matched = new boolean[1024];
    final float[] normInverse = new float[256];
    /** Postings of segments read the slow way (open, or partly outside the retained range): (doc, tf, norm). */
    int[][] post = new int[64][];
    int[] len = new int[64];
    long first;
    long next;

    void query(int nq, int n) {
      if (nq > boost.length) {
        int c = Math.max(nq, 2 * boost.length);
        df = new int[c];
        boost = new int[c];
        qBytes = new byte[c][];
        qHash = new int[c];
        post = java.util.Arrays.copyOf(post, c);
        len = new int[c];
      }
      java.util.Arrays.fill(df, 0, nq, 0);
      java.util.Arrays.fill(len, 0, nq, 0);
      if (n > acc.length) {
        acc = new double[Math.max(n, 2 * acc.length)];
        matched = new boolean[acc.length];
      }
      java.util.Arrays.fill(acc, 0, n, 0);
      java.util.Arrays.fill(matched, 0, n, false);
    }

    /** Adds a sealed segment; returns where its nq postings offsets go in {@link #postingsAt}. */
    int addSegment(int count, byte[] seg, int nq) {
      if (count == segs.length) {
        segs = java.util.Arrays.copyOf(segs, 2 * count);
      }
      if ((count + 1) * nq > postingsAt.length) {
        postingsAt = java.util.Arrays.copyOf(postingsAt, Math.max((count + 1) * nq, 2 * postingsAt.length));
      }
      segs[count] = seg;
      return count * nq;
    }

    @Override
    public void posting(int q, long seq, int tf, int norm) {
      if (seq >= first && seq < next) { // else evicted, or not yet committed to the statistics
        Bm25Scorer.addPosting(post, len, q, (int) (seq - first), tf, norm);
      }
    }

    /** Drops the references to the query's segments, so that the scratch does not keep them alive. */
    void release(int count) {
      java.util.Arrays.fill(segs, 0, count, null);
    }
  }

  private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

  /**
   * The user's top-k items for the query, best first; empty when the user has no history for the task.
   *
   * <p>Store reads: the statistics, each index segment of the retained range, and one history read per hit.
   * Sealed segments wholly inside the retained range (all but at most the first and the last) are scored straight
   * from their bytes: a first pass finds each query term's postings in each segment and sums its df, a second pass
   * adds the scores, query term by query term (the order of the per-document sums stays that of {@link Bm25Scorer}).
   * Segments are point reads, not one range scan: through the record cache a read of a cached segment copies
   * nothing, while a range scan copies every segment out of RocksDB even when the cache holds it (measured: ~3x
   * the allocation per query, no faster).
   */
  public List<Hit> topK(IndexStores stores, String userId, String task, String query, int k) {
    byte[] prefix = Keys.prefix(userId, task);
    IndexStats st = IndexStats.decode(stores.stats().get(Bytes.wrap(prefix)));
    if (st.docCount() == 0 || k <= 0) {
      return List.of();
    }
    Map<String, Integer> boosts = scorer.queryBoosts(query);
    int nq = boosts.size();
    int n = (int) st.retained();
    long first = st.firstSeq();
    long next = st.nextSeq();
    Scratch s = scratch.get();
    s.query(nq, n);
    s.first = first;
    s.next = next;
    int qi = 0;
    for (Map.Entry<String, Integer> t : boosts.entrySet()) {
      s.qBytes[qi] = t.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      s.qHash[qi] = Segments.termHash(s.qBytes[qi]);
      s.boost[qi] = t.getValue();
      qi++;
    }
    byte[][] qBytes = java.util.Arrays.copyOf(s.qBytes, nq);
    int segCount = 0;
    List<Bm25Scorer.Ranked> ranked;
    try {
      for (long segNo = Segments.segmentOf(first); segNo <= Segments.segmentOf(next - 1); segNo++) {
        byte[] seg = stores.postings().get(Keys.segment(prefix, segNo));
        if (seg == null) {
          continue;
        }
        long base = Segments.baseSeq(seg);
        if (Segments.isSealed(seg) && base >= first && base + Segments.docCount(seg) <= next) {
          int row = s.addSegment(segCount++, seg, nq);
          for (int q = 0; q < nq; q++) {
            int at = Segments.postingsAt(seg, s.qBytes[q], s.qHash[q]);
            s.postingsAt[row + q] = at;
            if (at >= 0) {
              s.df[q] += Segments.u16(seg, at);
            }
          }
        } else {
          Segments.lookup(seg, qBytes, s);
        }
      }
      ranked = score(s, nq, segCount, n, st, k);
    } finally {
      s.release(segCount);
    }
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
  /** The second pass: scores query term by query term, from the sealed segments' bytes and the slow postings. */
  private List<Bm25Scorer.Ranked> score(Scratch s, int nq, int segCount, int n, IndexStats st, int k) {
    long docCount = st.docCount();
    long first = st.firstSeq();
    double[] acc = s.acc;
    boolean[] matched = s.matched;
    float[] normInverse = null;
    for (int q = 0; q < nq; q++) {
      int df = s.df[q] + s.len[q] / 3;
      if (df == 0) {
        continue;
      }
      if (normInverse == null) {
        normInverse = scorer.normInverse(docCount, st.sumTotalTermFreq(), s.normInverse);
      }
      float weight = scorer.weight(s.boost[q], docCount, df);
      for (int i = 0; i < segCount; i++) {
        int p = s.postingsAt[i * nq + q];
        if (p < 0) {
          continue;
        }
        byte[] seg = s.segs[i];
        int docBase = (int) (Segments.baseSeq(seg) - first);
        int end = p + 2 + 4 * Segments.u16(seg, p);
        for (p += 2; p < end; p += 4) {
          int d = Segments.u16(seg, p);
          Bm25Scorer.accumulate(acc, matched, docBase + d, weight, Segments.u16(seg, p + 2),
              normInverse[Segments.norm(seg, d)]);
        }
      }
      int[] a = s.post[q];
      for (int i = 0; i < s.len[q]; i += 3) {
        Bm25Scorer.accumulate(acc, matched, a[i], weight, a[i + 1], normInverse[a[i + 2]]);
      }
    }
    return Bm25Scorer.rank(acc, matched, n, k);
  }
}
