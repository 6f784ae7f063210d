package dev.oppu.bench;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import dev.oppu.streams.Bm25Retriever;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.IngestTopology;
import dev.oppu.streams.LuceneReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.lucene.analysis.Analyzer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Top-5 BM25 retrieval latency from the ingestion stores of a running Streams application (RocksDB, read through the
 * same {@link Bm25Retriever} serving calls), for users with 100 and 1,000 items of 30-100 words; baseline: building a
 * Lucene in-memory index of the user's items and querying it ({@link LuceneReference}: what a store-less server would
 * do per request).
 */
@Command(name = "retrieve", mixinStandardHelpOptions = true,
    description = "p50/p99 of top-5 retrieval over a user's history vs building and querying a Lucene index.")
public final class RetrieveBench implements Callable<Integer> {

  /** The cluster to use; none given: an embedded broker. */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.KafkaOptions cluster = new dev.oppu.cli.KafkaOptions();

  @Option(names = "--queries", defaultValue = "3000", description = "Measured queries per user (default ${DEFAULT-VALUE}).")
  int queries;

  @Option(names = "--lucene-queries", defaultValue = "200",
      description = "Measured Lucene build+query rounds (default ${DEFAULT-VALUE}).")
  int luceneQueries;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seed = new dev.oppu.cli.SeedOptions();

  static final int K = 5;

  @Override
  public Integer call() throws Exception {
    SyntheticText gen = new SyntheticText(5000, seed.seed());
    Map<String, Integer> users = new java.util.LinkedHashMap<>();
    users.put("bench-u100", 100);
    users.put("bench-u1000", 1000);
    Map<String, List<String>> texts = new java.util.HashMap<>();
    IngestConfig config = IngestConfig.defaults().withAdapterPartitions(1);
    Path stateDir = Files.createTempDirectory("oppu-bench-retrieve");
    try (BenchKafka kafka = new BenchKafka(cluster)) {
      Topics topics = kafka.freshTopics("bench-retrieve", 1);
      Properties pp = kafka.client.producer();
      pp.put("linger.ms", "10");
      try (KafkaProducer<String, Behavior> producer = new KafkaProducer<>(pp, new StringSerializer(),
          topics.behaviors.valueSerde().serializer())) {
        for (Map.Entry<String, Integer> u : users.entrySet()) {
          List<String> list = new ArrayList<>();
          for (int i = 0; i < u.getValue(); i++) {
            String text = gen.text(30, 100);
            list.add(text);
            Behavior b = Behavior.newBuilder().setEventId(u.getKey() + "-" + i).setUserId(u.getKey())
                .setTask(Task.MOVIE_TAGGING.id()).setEventTime(Instant.now()).setItemId(Integer.toString(i))
                .setFields(Map.of("description", text,
                    "tag", Task.MOVIE_TAGGING.labels().get(gen.nextInt(Task.MOVIE_TAGGING.labels().size()))))
                .build();
            producer.send(new ProducerRecord<>(topics.behaviors.name(), b.getUserId(), b));
          }
          texts.put(u.getKey(), list);
        }
      }
      String appId = "bench-retrieve-" + System.currentTimeMillis();
      Properties o = kafka.client.streams(appId);
      o.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
      o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
      try (KafkaStreams streams = dev.oppu.system.OppuSystem.application(IngestTopology.build(topics, config),
          IngestTopology.streamsConfig(appId, kafka.client.bootstrapServers(), o))) {
        streams.start();
        if (!kafka.awaitCaughtUp(streams, appId, topics.behaviors.name(), 1, Duration.ofMinutes(5))) {
          throw new IllegalStateException("ingestion did not catch up");
        }
        Bm25Retriever.IndexStores stores = IngestTopology.queryableStores(streams);
        Analyzer analyzer = config.newAnalyzer();
        Bm25Retriever retriever = new Bm25Retriever(analyzer, config.maxQueryTerms());
        for (Map.Entry<String, Integer> u : users.entrySet()) {
          if (retriever.topK(stores, u.getKey(), Task.MOVIE_TAGGING.id(), texts.get(u.getKey()).get(0), K).isEmpty()) {
            throw new IllegalStateException("no retrieval results for " + u.getKey());
          }
        }
        // Queries of 40-120 words: most are cut to their first 64 terms.
        Map<String, Histogram> ours = new java.util.LinkedHashMap<>();
        for (String user : users.keySet()) {
          for (int i = 0; i < 500; i++) { // warm-up
            retriever.topK(stores, user, Task.MOVIE_TAGGING.id(), gen.text(40, 120), K);
          }
          Histogram h = new Histogram(3_600_000_000_000L, 3);
          for (int i = 0; i < queries; i++) {
            String q = gen.text(40, 120);
            long t0 = System.nanoTime();
            List<Bm25Retriever.Hit> hits = retriever.topK(stores, user, Task.MOVIE_TAGGING.id(), q, K);
            h.recordValue(System.nanoTime() - t0);
            if (hits.isEmpty()) {
              throw new IllegalStateException("empty retrieval");
            }
          }
          ours.put(user, h);
        }
        // Baseline: per request, index the user's 1,000 items in Lucene and search; also checks ranking equality.
        Histogram lucene = new Histogram(3_600_000_000_000L, 3);
        int mismatches = 0;
        double maxRelErr = 0;
        List<String> docs = texts.get("bench-u1000");
        for (int i = 0; i < luceneQueries + 20; i++) {
          String q = gen.text(40, 120);
          long t0 = System.nanoTime();
          List<LuceneReference.Hit> top = LuceneReference.topK(analyzer, docs, retriever.queryTerms(q), K);
          long dt = System.nanoTime() - t0;
          if (i >= 20) {
            lucene.recordValue(dt);
          }
          List<Bm25Retriever.Hit> hits = retriever.topK(stores, "bench-u1000", Task.MOVIE_TAGGING.id(), q, K);
          for (int r = 0; r < top.size(); r++) {
            LuceneReference.Hit sd = top.get(r);
            if (r >= hits.size() || hits.get(r).seq() != sd.position()) {
              mismatches++;
            } else {
              maxRelErr = Math.max(maxRelErr, Math.abs(hits.get(r).score() - sd.score()) / Math.abs(sd.score()));
            }
          }
        }
        streams.close(Duration.ofSeconds(30));
        streams.cleanUp();

        Histogram h100 = ours.get("bench-u100");
        Histogram h1000 = ours.get("bench-u1000");
        double p50 = ms(h1000.getValueAtPercentile(50));
        double p99 = ms(h1000.getValueAtPercentile(99));
        double lp99 = ms(lucene.getValueAtPercentile(99));
        System.out.printf(Locale.ROOT, "100 items:   p50 %.3f ms  p99 %.3f ms  (%d queries)%n",
            ms(h100.getValueAtPercentile(50)), ms(h100.getValueAtPercentile(99)), queries);
        System.out.printf(Locale.ROOT, "1000 items:  p50 %.3f ms  p99 %.3f ms  (%d queries)%n", p50, p99, queries);
        System.out.printf(Locale.ROOT, "Lucene build+query, 1000 items: p50 %.3f ms  p99 %.3f ms  (%d rounds)%n",
            ms(lucene.getValueAtPercentile(50)), lp99, luceneQueries);
        System.out.printf(Locale.ROOT, "ranking vs Lucene: %d mismatched ranks, max relative score error %.2e%n",
            mismatches, maxRelErr);
        System.out.println(dev.oppu.cli.JsonOut.object().put("bench", "retrieve").put("k", K)
            .put("max_query_terms", config.maxQueryTerms()).put("queries", queries)
            .put("p50_ms_100", ms(h100.getValueAtPercentile(50)), 4)
            .put("p99_ms_100", ms(h100.getValueAtPercentile(99)), 4).put("p50_ms", p50, 4).put("p99_ms", p99, 4)
            .put("lucene_p50_ms", ms(lucene.getValueAtPercentile(50)), 4).put("lucene_p99_ms", lp99, 4)
            .put("ratio", lp99 / p99, 2).put("rank_mismatches", mismatches)
            .putSignificant("max_rel_score_err", maxRelErr, 4));
      }
    } finally {
      deleteTree(stateDir);
    }
    return 0;
  }

  static double ms(long nanos) {
    return nanos / 1e6;
  }

  static void deleteTree(Path p) throws java.io.IOException {
    if (Files.exists(p)) {
      try (var s = Files.walk(p)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
