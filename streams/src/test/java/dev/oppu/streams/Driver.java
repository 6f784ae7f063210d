package dev.oppu.streams;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;

/** A TopologyTestDriver over the ingestion topology, with typed topics. */
final class Driver implements AutoCloseable {
  final Topics topics = Topics.defaults();
  final TopologyTestDriver driver;
  final TestInputTopic<String, Behavior> behaviors;
  final TestInputTopic<byte[], byte[]> rawBehaviors;
  final TestInputTopic<String, TrainResult> results;
  final TestInputTopic<String, AdapterVersion> adapters;
  final TestOutputTopic<String, DeadLetter> deadLetters;
  final TestOutputTopic<String, TrainTrigger> triggers;
  final TestInputTopic<String, dev.oppu.schemas.UserCommand> commands;
  /** What the topology writes to the adapters topic: tombstones of deleted users' adapters. */
  final TestOutputTopic<String, AdapterVersion> adapterOut;
  private long clock = 1_700_000_000_000L;

  Driver(IngestConfig config, Path stateDir) {
    Properties overrides = new Properties();
    overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    Properties props = IngestTopology.streamsConfig("ingest-test", "dummy:9092", overrides);
    driver = new TopologyTestDriver(IngestTopology.build(topics, config), props, Instant.ofEpochMilli(clock));
    behaviors = driver.createInputTopic(topics.behaviors.name(), Serdes.String().serializer(),
        topics.behaviors.valueSerde().serializer());
    rawBehaviors = driver.createInputTopic(topics.behaviors.name(), Serdes.ByteArray().serializer(),
        Serdes.ByteArray().serializer());
    results = driver.createInputTopic(topics.trainResults.name(), Serdes.String().serializer(),
        topics.trainResults.valueSerde().serializer());
    adapters = driver.createInputTopic(topics.adapters.name(), Serdes.String().serializer(),
        topics.adapters.valueSerde().serializer());
    deadLetters = driver.createOutputTopic(topics.deadLetters.name(), Serdes.String().deserializer(),
        topics.deadLetters.valueSerde().deserializer());
    triggers = driver.createOutputTopic(topics.trainTriggers.name(), Serdes.String().deserializer(),
        topics.trainTriggers.valueSerde().deserializer());
    commands = driver.createInputTopic(topics.userCommands.name(), Serdes.String().serializer(),
        topics.userCommands.valueSerde().serializer());
    adapterOut = driver.createOutputTopic(topics.adapters.name(), Serdes.String().deserializer(),
        topics.adapters.valueSerde().deserializer());
  }

  void send(Behavior b) {
    behaviors.pipeInput(b.getUserId(), b, Instant.ofEpochMilli(++clock));
  }

  void delete(String user) {
    commands.pipeInput(user, dev.oppu.schemas.UserCommand.newBuilder().setCommandId("c-" + user + "-" + clock)
        .setUserId(user).setAction(dev.oppu.schemas.UserAction.DELETE).setRequestedAt(Instant.ofEpochMilli(clock))
        .build(), Instant.ofEpochMilli(++clock));
  }

  long now() {
    return clock;
  }

  KeyValueStore<Bytes, byte[]> store(String name) {
    return driver.getKeyValueStore(name);
  }

  Bm25Retriever.IndexStores stores() {
    return new Bm25Retriever.IndexStores(store(StoreNames.POSTINGS_STORE),
        store(StoreNames.INDEX_STATS_STORE), store(StoreNames.HISTORY_STORE));
  }

  double metric(String op) {
    return IngestTopology.metricTotal(driver.metrics(), op);
  }

  @Override
  public void close() {
    driver.close();
  }
}
