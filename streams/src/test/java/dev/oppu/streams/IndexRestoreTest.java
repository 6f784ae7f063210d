package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.CheckedSends;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The BM25 index stores are unlogged: after the local state is wiped, the history is restored from its changelog and
 * the index is rebuilt from it, and retrieval answers exactly as before. Real broker, real KafkaStreams.
 */
@ExtendWith(KafkaExtension.class)
class IndexRestoreTest {
  @TempDir
  Path stateDir;

  static final int USERS = 3;
  static final int ITEMS = 40;
  static final int MAX_HISTORY = 30;

  @Test
  void indexIsRebuiltFromTheHistoryChangelogAfterTheLocalStateIsWiped(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("restore", 2);
    IngestConfig config = IngestConfig.defaults().withMaxHistory(MAX_HISTORY).withAdapterPartitions(2);
    String appId = "restore-it-" + System.nanoTime();
    Properties overrides = new Properties();
    overrides.putAll(kafka.clientConfig().streams(appId));
    overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    Properties props = IngestTopology.streamsConfig(appId, kafka.bootstrapServers(), overrides);

    Random rnd = new Random(7);
    Properties producerProps = new Properties();
    producerProps.putAll(kafka.clientConfig().producer());
    producerProps.put("bootstrap.servers", kafka.bootstrapServers());
    try (KafkaProducer<String, Behavior> producer = new KafkaProducer<>(producerProps, new StringSerializer(),
        topics.behaviors.valueSerde().serializer())) {
      CheckedSends sends = new CheckedSends();
      for (int i = 0; i < ITEMS; i++) {
        for (int u = 0; u < USERS; u++) {
          Behavior b = TestData.movie("u" + u, "u" + u + "-e" + i, TestData.text(rnd, 5, 40), "comedy");
          sends.send(producer, new ProducerRecord<>(topics.behaviors.name(), b.getUserId(), b));
        }
      }
      sends.await();
    }
    List<String> queries = new ArrayList<>();
    for (int q = 0; q < 20; q++) {
      queries.add(TestData.text(rnd, 1, 10));
    }
    Bm25Retriever retriever = new Bm25Retriever(config.newAnalyzer(), config.maxQueryTerms());

    List<List<Bm25Retriever.Hit>> before;
    try (KafkaStreams streams = new KafkaStreams(IngestTopology.build(topics, config), props)) {
      streams.start();
      awaitAllIngested(streams);
      before = answers(streams, retriever, queries);
      streams.close(Duration.ofSeconds(30));
      assertFalse(postingsDirs(stateDir).isEmpty(), "the index lived in local state before the wipe");
      streams.cleanUp(); // wipes the local state: the index stores have no changelog to come back from
    }
    assertEquals(List.of(), postingsDirs(stateDir), "local index state wiped");
    long nonEmpty = before.stream().filter(h -> !h.isEmpty()).count();
    assertTrue(nonEmpty > USERS * queries.size() / 2, "queries find items: " + nonEmpty);

    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      Set<String> names = admin.listTopics().names().get();
      assertTrue(names.contains(appId + "-" + StoreNames.HISTORY_STORE + "-changelog"));
      assertFalse(names.contains(appId + "-" + StoreNames.POSTINGS_STORE + "-changelog"));
      assertFalse(names.contains(appId + "-" + StoreNames.INDEX_STATS_STORE + "-changelog"));
    }

    try (KafkaStreams streams = new KafkaStreams(IngestTopology.build(topics, config), props)) {
      streams.start();
      awaitAllIngested(streams);
      List<List<Bm25Retriever.Hit>> after = answers(streams, retriever, queries);
      assertEquals(before, after);
      streams.close(Duration.ofSeconds(30));
    }
  }

  /** The RocksDB directories of the postings store under the state directory, whichever task holds them. */
  private static List<Path> postingsDirs(Path stateDir) throws java.io.IOException {
    try (var all = Files.walk(stateDir)) {
      return all.filter(p -> Files.isDirectory(p) && p.getFileName().toString().equals(StoreNames.POSTINGS_STORE))
          .toList();
    }
  }

  private static List<List<Bm25Retriever.Hit>> answers(KafkaStreams streams, Bm25Retriever r, List<String> queries) {
    Bm25Retriever.IndexStores stores = IngestTopology.queryableStores(streams);
    List<List<Bm25Retriever.Hit>> out = new ArrayList<>();
    for (int u = 0; u < USERS; u++) {
      for (String q : queries) {
        out.add(r.topK(stores, "u" + u, "LaMP_2M", q, 5));
      }
    }
    return out;
  }

  /** Waits until every user's history holds the last item (seq ITEMS-1) and the index agrees with it. */
  private static void awaitAllIngested(KafkaStreams streams) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (System.nanoTime() < deadline) {
      if (streams.state() == KafkaStreams.State.RUNNING) {
        try {
          ReadOnlyKeyValueStore<Bytes, byte[]> meta = streams.store(StoreQueryParameters.fromNameAndType(
              StoreNames.HISTORY_META_STORE, QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
          ReadOnlyKeyValueStore<Bytes, byte[]> stats = streams.store(StoreQueryParameters.fromNameAndType(
              StoreNames.INDEX_STATS_STORE, QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
          boolean done = true;
          for (int u = 0; u < USERS && done; u++) {
            Bytes k = Bytes.wrap(Keys.prefix("u" + u, "LaMP_2M"));
            IndexStats m = IndexStats.decode(meta.get(k));
            IndexStats s = IndexStats.decode(stats.get(k));
            done = m.nextSeq() == ITEMS && m.retained() == MAX_HISTORY && s.sameRange(m)
                && s.docCount() == MAX_HISTORY;
          }
          if (done) {
            return;
          }
        } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
          // not queryable yet (rebalancing or restoring)
        }
      }
      Thread.sleep(100);
    }
    throw new AssertionError("ingestion did not complete; state " + streams.state());
  }
}
