package dev.oppu.trainer.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * Exact BM25 over a growing list of documents, so that a training example built from history item i retrieves only
 * from items 0..i-1 with statistics (document count, document frequencies, average length) of those items alone --
 * no information from item i or later leaks in. Text analysis is Lucene's (default: StandardAnalyzer without stop
 * words); scoring is textbook BM25 with Lucene's idf, {@code log(1 + (N - n + 0.5) / (n + 0.5))}, and exact lengths.
 * Queries are cut to their first {@link #MAX_QUERY_TERMS} terms; ties go to the older document.
 */
public final class PrefixBm25 {
  public static final int MAX_QUERY_TERMS = 64;

  private final Analyzer analyzer;
  private final double k1;
  private final double b;
  private final List<Map<String, Integer>> termFreqs = new ArrayList<>();
  private final List<Integer> lengths = new ArrayList<>();
  private final Map<String, Integer> docFreq = new HashMap<>();
  private long totalLength;

  public PrefixBm25() {
    this(new StandardAnalyzer(CharArraySet.EMPTY_SET), 1.2, 0.75);
  }

  public PrefixBm25(Analyzer analyzer, double k1, double b) {
    this.analyzer = analyzer;
    this.k1 = k1;
    this.b = b;
  }

  /** Lucene's analysis of a text into terms. */
  public List<String> analyze(String text) {
    List<String> terms = new ArrayList<>();
    try (TokenStream ts = analyzer.tokenStream("text", text == null ? "" : text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        terms.add(term.toString());
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return terms;
  }

  /** Appends a document; its index is the number of documents added before it. */
  public void add(String text) {
    List<String> terms = analyze(text);
    Map<String, Integer> tf = new HashMap<>();
    for (String t : terms) {
      tf.merge(t, 1, Integer::sum);
    }
    for (String t : tf.keySet()) {
      docFreq.merge(t, 1, Integer::sum);
    }
    termFreqs.add(tf);
    lengths.add(terms.size());
    totalLength += terms.size();
  }

  public int size() {
    return lengths.size();
  }

  /** Indices of the top-k documents for the query, best first; ties broken by the older document. */
  public int[] search(String query, int k) {
    int n = size();
    if (n == 0 || k <= 0) {
      return new int[0];
    }
    List<String> q = analyze(query);
    if (q.size() > MAX_QUERY_TERMS) {
      q = q.subList(0, MAX_QUERY_TERMS);
    }
    Map<String, Integer> queryTf = new HashMap<>();
    for (String t : q) {
      queryTf.merge(t, 1, Integer::sum);
    }
    double avgdl = (double) totalLength / n;
    double[] scores = new double[n];
    for (Map.Entry<String, Integer> e : queryTf.entrySet()) {
      Integer df = docFreq.get(e.getKey());
      if (df == null) {
        continue;
      }
      double idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (int d = 0; d < n; d++) {
        Integer tf = termFreqs.get(d).get(e.getKey());
        if (tf != null) {
          double norm = k1 * (1 - b + b * lengths.get(d) / avgdl);
          // a term repeated in the query counts once per occurrence, as in a Lucene BooleanQuery of its terms
          scores[d] += e.getValue() * idf * tf * (k1 + 1) / (tf + norm);
        }
      }
    }
    List<Integer> hits = new ArrayList<>();
    for (int d = 0; d < n; d++) {
      if (scores[d] > 0) {
        hits.add(d);
      }
    }
    hits.sort((x, y) -> scores[x] != scores[y] ? Double.compare(scores[y], scores[x]) : Integer.compare(x, y));
    return hits.stream().limit(k).mapToInt(Integer::intValue).toArray();
  }
}
