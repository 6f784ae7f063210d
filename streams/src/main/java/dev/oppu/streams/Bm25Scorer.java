package dev.oppu.streams;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.util.SmallFloat;

/**
 * The one BM25 of the project, equal to Lucene's {@code IndexSearcher} with {@code BM25Similarity} over the same
 * documents and analyzer: float arithmetic in Lucene's order, no (k1+1) factor, document lengths through the 1-byte
 * SmallFloat norm, avgdl = sumTotalTermFreq / docCount, per-term scores summed in double and rounded to float,
 * repeated query terms as one clause with a summed boost (what BooleanQuery's rewrite does), queries cut to their
 * first {@code maxQueryTerms} terms, ties to the older document (Lucene's doc-id order).
 *
 * <p>Serving retrieves through {@link Bm25Retriever} (postings from the ingestion stores); training retrieves the
 * items before item i through an in-memory {@link Index}. It lives in the streams module, which owns retrieval and
 * the Lucene dependency and which the trainer already depends on; this class uses no Kafka type.
 */
public final class Bm25Scorer {

  /** A document (index from 0 in insertion order) and its score. */
  public record Ranked(int doc, float score) {}

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

  public Bm25Scorer(Analyzer analyzer, int maxQueryTerms) {
    this(analyzer, maxQueryTerms, 1.2f, 0.75f);
  }

  public Bm25Scorer(Analyzer analyzer, int maxQueryTerms, float k1, float b) {
    this.analyzer = analyzer;
    this.maxQueryTerms = maxQueryTerms;
    this.k1 = k1;
    this.b = b;
  }

  public Analyzer analyzer() {
    return analyzer;
  }

  /** The query's terms as retrieval uses them: analyzed, cut to the first {@code maxQueryTerms}. */
  public List<String> queryTerms(String query) {
    return TextAnalysis.terms(analyzer, query == null ? "" : query, maxQueryTerms);
  }

  /** The query's distinct terms in first-occurrence order, each with its boost (how often it occurs). */
  public Map<String, Integer> queryBoosts(String query) {
    return TextAnalysis.termFreqs(queryTerms(query));
  }

  /** A document's norm byte as Lucene's BM25Similarity encodes it (overlapping tokens left out of the length). */
  public static byte norm(TextAnalysis.Analyzed doc) {
    return SmallFloat.intToByte4(doc.normLength());
  }

  /**
   * The top-k documents, best first.
   *
   * @param n documents 0..n-1
   * @param boosts per query term (in the order of {@code postings})
   * @param postings per query term, {@code (doc, tf, norm)} triples; {@code lengths[q]} ints of it are used
   */
  public List<Ranked> topK(int n, long docCount, long sumTotalTermFreq, int[] boosts, int[][] postings,
      int[] lengths, int k) {
    if (n == 0 || docCount == 0 || k <= 0) {
      return List.of();
    }
    double[] acc = new double[n];
    boolean[] matched = new boolean[n];
    float[] normInverse = null;
    for (int q = 0; q < boosts.length; q++) {
      int df = lengths[q] / 3;
      if (df == 0) {
        continue;
      }
      if (normInverse == null) {
        normInverse = normInverse(docCount, sumTotalTermFreq, new float[256]);
      }
      float weight = weight(boosts[q], docCount, df);
      int[] a = postings[q];
      for (int i = 0; i < lengths[q]; i += 3) {
        accumulate(acc, matched, a[i], weight, a[i + 1], normInverse[a[i + 2]]);
      }
    }
    return rank(acc, matched, n, k);
  }

  /**
   * The per-norm-byte factor {@code 1 / (k1 * ((1 - b) + b * dl / avgdl))} (avgdl = sumTotalTermFreq / docCount),
   * written into {@code out} (256 floats).
   */
  public float[] normInverse(long docCount, long sumTotalTermFreq, float[] out) {
    float avgdl = (float) (sumTotalTermFreq / (double) docCount);
    for (int i = 0; i < 256; i++) {
      out[i] = 1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl));
    }
    return out;
  }

  /** A query term's weight: boost x idf, df documents of docCount holding it. */
  public float weight(int boost, long docCount, int df) {
    float idf = (float) Math.log(1 + (docCount - df + 0.5D) / (df + 0.5D));
    return (float) boost * idf;
  }

  /**
   * Adds one term's score to a document: {@code weight - weight / (1 + tf * normInverse)}, summed in double. A
   * document's terms must be added in query-term order (the order of the sum is part of the result).
   */
  public static void accumulate(double[] acc, boolean[] matched, int doc, float weight, int tf, float normInverse) {
    float freq = tf;
    acc[doc] += weight - weight / (1f + freq * normInverse);
    matched[doc] = true;
  }

  /** The top-k matched documents of {@code 0..n-1}, best first; equal scores: the older (lower) document first. */
  public static List<Ranked> rank(double[] acc, boolean[] matched, int n, int k) {
    // Worst of the current top-k at the head: lower score, then newer doc.
    PriorityQueue<Ranked> top = new PriorityQueue<>(k + 1, (x, y) -> {
      int c = Float.compare(x.score(), y.score());
      return c != 0 ? c : Integer.compare(y.doc(), x.doc());
    });
    for (int d = 0; d < n; d++) {
      if (!matched[d]) {
        continue;
      }
      float score = (float) acc[d];
      if (top.size() < k) {
        top.add(new Ranked(d, score));
      } else if (score > top.peek().score()) { // equal score: the older doc already there wins
        top.poll();
        top.add(new Ranked(d, score));
      }
    }
    List<Ranked> ranked = new ArrayList<>(top);
    ranked.sort((x, y) -> {
      int c = Float.compare(y.score(), x.score());
      return c != 0 ? c : Integer.compare(x.doc(), y.doc());
    });
    return ranked;
  }

  /** A postings buffer of {@code (doc, tf, norm)} triples per query term. */
  static void addPosting(int[][] postings, int[] lengths, int q, int doc, int tf, int norm) {
    int[] a = postings[q];
    if (a == null) {
      a = postings[q] = new int[48];
    } else if (lengths[q] + 3 > a.length) {
      a = postings[q] = java.util.Arrays.copyOf(a, a.length * 2);
    }
    a[lengths[q]++] = doc;
    a[lengths[q]++] = tf;
    a[lengths[q]++] = norm;
  }

  /** A new in-memory index scored by this scorer. */
  public Index newIndex() {
    return new Index(this);
  }

  /**
   * A growing in-memory index (documents in insertion order, statistics over exactly the documents added so far), so
   * that a training example built from history item i retrieves only from items 0..i-1: no information from item i
   * or later leaks in. Documents are counted as the streams index counts them (every added document).
   */
  public static final class Index {
    private final Bm25Scorer scorer;
    private final List<Map<String, Integer>> termFreqs = new ArrayList<>();
    private final List<Byte> norms = new ArrayList<>();
    private long sumTotalTermFreq;

    private Index(Bm25Scorer scorer) {
      this.scorer = scorer;
    }

    /** Appends a document (null = empty); its index is the number of documents added before it. */
    public void add(String text) {
      TextAnalysis.Analyzed a = TextAnalysis.analyze(scorer.analyzer, text == null ? "" : text);
      termFreqs.add(TextAnalysis.termFreqs(a.terms()));
      norms.add(norm(a));
      sumTotalTermFreq += a.terms().size();
    }

    public int size() {
      return norms.size();
    }

    /** Indices of the top-k documents for the query, best first; ties to the older document. */
    public int[] search(String query, int k) {
      Map<String, Integer> boosts = scorer.queryBoosts(query);
      int nq = boosts.size();
      int[] boost = new int[nq];
      int[][] postings = new int[nq][];
      int[] lengths = new int[nq];
      int q = 0;
      for (Map.Entry<String, Integer> e : boosts.entrySet()) {
        boost[q] = e.getValue();
        for (int d = 0; d < termFreqs.size(); d++) {
          Integer tf = termFreqs.get(d).get(e.getKey());
          if (tf != null) {
            addPosting(postings, lengths, q, d, Math.min(tf, 0xFFFF), norms.get(d) & 0xFF);
          }
        }
        q++;
      }
      return scorer.topK(size(), size(), sumTotalTermFreq, boost, postings, lengths, k).stream()
          .mapToInt(Ranked::doc).toArray();
    }
  }
}
