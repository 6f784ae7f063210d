package dev.oppu.streams;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;

/** Turns text into index terms with the configured Lucene analyzer, exactly as Lucene's indexer would. */
public final class TextAnalysis {
  /** The field name handed to the analyzer (and used by the Lucene reference index in tests and benchmarks). */
  public static final String FIELD = "text";

  private TextAnalysis() {}

  /**
   * A document's terms in order, and how many were overlaps (position increment 0, e.g. synonyms): Lucene's
   * BM25Similarity leaves overlaps out of the length norm but counts them in sumTotalTermFreq.
   */
  public record Analyzed(List<String> terms, int overlaps) {
    public int normLength() {
      return terms.size() - overlaps;
    }
  }

  public static Analyzed analyze(Analyzer analyzer, String text) {
    List<String> out = new ArrayList<>();
    int overlaps = 0;
    try (TokenStream ts = analyzer.tokenStream(FIELD, text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      PositionIncrementAttribute posInc = ts.addAttribute(PositionIncrementAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        out.add(term.toString());
        if (posInc.getPositionIncrement() == 0) {
          overlaps++;
        }
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Analyzed(out, overlaps);
  }

  /** Terms in order; at most {@code limit} of them. */
  public static List<String> terms(Analyzer analyzer, String text, int limit) {
    List<String> out = new ArrayList<>();
    try (TokenStream ts = analyzer.tokenStream(FIELD, text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (out.size() < limit && ts.incrementToken()) {
        out.add(term.toString());
      }
      ts.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  public static List<String> terms(Analyzer analyzer, String text) {
    return terms(analyzer, text, Integer.MAX_VALUE);
  }

  /** Term frequencies in first-occurrence order. */
  public static Map<String, Integer> termFreqs(List<String> terms) {
    Map<String, Integer> tf = new LinkedHashMap<>();
    for (String t : terms) {
      tf.merge(t, 1, Integer::sum);
    }
    return tf;
  }
}
