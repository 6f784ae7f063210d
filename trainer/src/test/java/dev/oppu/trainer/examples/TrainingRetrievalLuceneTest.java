package dev.oppu.trainer.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.LuceneReference;
import dev.oppu.streams.TextAnalysis;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.util.SmallFloat;
import org.junit.jupiter.api.Test;

/**
 * Training's retrieval of the items before item i ranks as Lucene's IndexSearcher with BM25Similarity over those
 * items. The copy it replaced (PrefixBm25: textbook BM25 with exact document lengths) did not: Lucene stores a
 * document's length in a 1-byte norm, so two documents whose lengths share a norm byte score the same and the older
 * one ranks first, while exact lengths put the shorter (newer) one first.
 */
class TrainingRetrievalLuceneTest {

  private static String doc(String word, int length, String filler) {
    return word + " " + IntStream.range(1, length).mapToObj(i -> filler + i).collect(Collectors.joining(" "));
  }

  /** Lucene's top-k positions over {@code docs} for the query's terms. */
  private static int[] lucene(Analyzer analyzer, List<String> docs, String query, int k) throws Exception {
    return LuceneReference.topK(analyzer, docs, TextAnalysis.terms(analyzer, query, 64), k).stream()
        .mapToInt(LuceneReference.Hit::position).toArray();
  }

  /** The deleted PrefixBm25's score of a one-term query: k1 1.2, b 0.75, (k1+1) factor, exact lengths. */
  private static double oldScore(int n, int df, int tf, int length, double avgdl) {
    double idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avgdl));
  }

  @Test
  void trainingRetrievalRanksAsLuceneWhereTheOldCopyDidNot() throws Exception {
    // two lengths that Lucene's norm byte does not tell apart
    int longer = -1;
    int shorter = -1;
    for (int l = 30; l < 200 && longer < 0; l++) {
      if (SmallFloat.intToByte4(l) == SmallFloat.intToByte4(l - 1)) {
        longer = l;
        shorter = l - 1;
      }
    }
    assertTrue(longer > 0);
    Task task = Task.MOVIE_TAGGING;
    List<String> texts = List.of(doc("apple", longer, "a"), doc("apple", shorter, "b"), doc("pear", 5, "c"));
    List<Map<String, String>> items = new ArrayList<>();
    texts.forEach(t -> items.add(Map.of("description", t, "tag", "comedy")));
    items.add(Map.of("description", "apple", "tag", "comedy"));

    int[] training = ExampleBuilder.retrieveBefore(task, items, 3, 2);
    int[] expected = lucene(IngestConfig.defaults().newAnalyzer(), texts, "apple", 2);
    assertArrayEquals(new int[] {0, 1}, expected, "Lucene: equal norms, equal scores, the older document first");
    assertArrayEquals(expected, training, "training's retrieval ranks as Lucene");

    double avgdl = (longer + shorter + 5) / 3.0;
    double oldLonger = oldScore(3, 2, 1, longer, avgdl);
    double oldShorter = oldScore(3, 2, 1, shorter, avgdl);
    System.out.printf("lengths %d and %d share norm byte %d; PrefixBm25 scored them %.6f and %.6f (%.3g relative)"
        + " and ranked the newer, shorter one first%n", longer, shorter, SmallFloat.intToByte4(longer) & 0xFF,
        oldLonger, oldShorter, (oldShorter - oldLonger) / oldLonger);
    assertTrue(oldShorter > oldLonger, "the old copy ranked [1, 0]: not Lucene's order");
    assertEquals(2, training.length);
  }
}
