package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.lucene.analysis.Analyzer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retrieval from the incrementally maintained RocksDB index ranks and scores like Lucene's IndexSearcher with
 * BM25Similarity over the same user's retained documents and the same analyzer: randomized histories (with
 * evictions, repeated texts for exact ties, capitalization and punctuation) and queries (some over 64 terms).
 * Lucene's side is {@link LuceneReference}.
 */
class Bm25LuceneEquivalenceTest {
  @TempDir
  Path stateDir;

  static final int MAX_HISTORY = 50;

  @Test
  void rankingAndScoresEqualLucene() throws IOException {
    // In-memory stores: the driver flushes every store after every record, slow with RocksDB on a busy disk; the
    // stores have the same byte-ordered semantics, and RocksDB is covered by IngestTopologyTest.
    IngestConfig config = IngestConfig.defaults().withMaxHistory(MAX_HISTORY).withInMemoryStores(true);
    Analyzer analyzer = config.newAnalyzer();
    Bm25Retriever retriever = new Bm25Retriever(analyzer, config.maxQueryTerms());
    Random rnd = new Random(20241127);
    int compared = 0;
    int ties = 0;
    int cut = 0;
    try (Driver d = new Driver(config, stateDir)) {
      for (int u = 0; u < 12; u++) {
        String user = "user-" + u;
        int items = 5 + rnd.nextInt(110);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < items; i++) {
          String text = !texts.isEmpty() && rnd.nextInt(8) == 0 ? texts.get(rnd.nextInt(texts.size()))
              : TestData.text(rnd, 3, 60);
          texts.add(text);
          d.send(TestData.movie(user, user + "-" + i, text, "comedy"));
        }
        // The retained documents: the newest MAX_HISTORY, in insertion order.
        int first = Math.max(0, items - MAX_HISTORY);
        List<String> retained = texts.subList(first, items);
        try (LuceneReference lucene = new LuceneReference(analyzer, retained)) {
        for (int q = 0; q < 25; q++) {
          String query = q % 5 == 0 ? TestData.text(rnd, 65, 120) + " zzunknown" : TestData.text(rnd, 1, 12);
          List<String> terms = retriever.queryTerms(query);
          assertTrue(terms.size() <= 64);
          if (terms.size() == 64) {
            cut++;
          }
          for (int k : new int[] {5, retained.size()}) {
            List<LuceneReference.Hit> expected = lucene.search(terms, k);
            List<Bm25Retriever.Hit> actual = retriever.topK(d.stores(), user, "LaMP_2M", query, k);
            assertEquals(expected.size(), actual.size(), user + " q" + q + " k" + k + ": hit count");
            for (int i = 0; i < expected.size(); i++) {
              LuceneReference.Hit e = expected.get(i);
              Bm25Retriever.Hit a = actual.get(i);
              assertEquals((long) e.position() + first, a.seq(), user + " q" + q + " rank " + i + ": doc");
              assertEquals(e.score(), a.score(), Math.abs(e.score()) * 1e-5, user + " q" + q + " rank " + i + ": score");
              if (i > 0 && expected.get(i - 1).score() == e.score()) {
                ties++;
              }
              compared++;
            }
          }
        }
        }
      }
    }
    // The randomization did exercise what it is meant to.
    assertTrue(compared > 1000, "compared " + compared);
    assertTrue(ties > 10, "ties " + ties);
    assertTrue(cut > 10, "queries cut to 64 terms " + cut);
  }
}
