package dev.oppu.serving;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/** Test support: the serving sub-topology alone under TopologyTestDriver, with its input and output topics. */
final class ServingDriver implements AutoCloseable {
  final Topics topics = Topics.defaults();
  final TopologyTestDriver driver;
  final TestInputTopic<String, byte[]> requests;
  final TestInputTopic<String, AdapterVersion> adapters;
  final TestOutputTopic<String, Response> responses;
  final TestOutputTopic<String, DeadLetter> deadLetters;

  ServingDriver(ServingConfig config, BatchGenerator generator, AdapterCache cache, UserData.Source users,
      Clock clock, Instant start, Path stateDir) {
    StreamsBuilder b = new StreamsBuilder();
    ServingTopology.addServing(b, topics, config, generator, cache, users, clock);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "serving-test");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    driver = new TopologyTestDriver(b.build(), p, start);
    requests = driver.createInputTopic(topics.requests.name(), Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
    adapters = driver.createInputTopic(topics.adapters.name(), Serdes.String().serializer(),
        topics.adapters.valueSerde().serializer());
    responses = driver.createOutputTopic(topics.responses.name(), Serdes.String().deserializer(),
        topics.responses.valueSerde().deserializer());
    deadLetters = driver.createOutputTopic(topics.deadLetters.name(), Serdes.String().deserializer(),
        topics.deadLetters.valueSerde().deserializer());
  }

  @Override
  public void close() {
    driver.close();
  }
}
