package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving never follows an adapter record's weights path out of the adapter store: such a record is dead-lettered
 * with the reason and its original bytes, never stored, never loaded, and the user is answered without it.
 */
class AdapterStorePathTest {
  private final Topics topics = Topics.defaults();
  private final FakeGenerator gen = new FakeGenerator();
  private final MapUserData users = new MapUserData();
  private TopologyTestDriver driver;

  @AfterEach
  void close() {
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void aWeightsPathOutsideTheStoreIsDeadLetteredAndNeverUsed(@TempDir Path tmp) throws Exception {
    Path store = Files.createDirectories(tmp.resolve("adapter-store"));
    ServingConfig config = ServingConfig.defaults().withMaxBatch(1).withAdapterStore(store);
    AdapterCache cache = new AdapterCache(config.cacheMaxAdapters(), config.cacheMaxBytes());
    StreamsBuilder b = new StreamsBuilder();
    ServingTopology.addServing(b, topics, config, gen, cache, users);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "serving-path-test");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    p.put(StreamsConfig.STATE_DIR_CONFIG, tmp.resolve("state").toString());
    driver = new TopologyTestDriver(b.build(), p, Instant.now());
    TestInputTopic<String, byte[]> requests = driver.createInputTopic(topics.requests.name(),
        Serdes.String().serializer(), Serdes.ByteArray().serializer());
    TestInputTopic<String, AdapterVersion> adapters = driver.createInputTopic(topics.adapters.name(),
        Serdes.String().serializer(), topics.adapters.valueSerde().serializer());
    TestOutputTopic<String, Response> responses = driver.createOutputTopic(topics.responses.name(),
        Serdes.String().deserializer(), topics.responses.valueSerde().deserializer());
    TestOutputTopic<String, DeadLetter> deadLetters = driver.createOutputTopic(topics.deadLetters.name(),
        Serdes.String().deserializer(), topics.deadLetters.valueSerde().deserializer());
    KeyValueStore<String, AdapterVersion> stored = driver.getKeyValueStore(ServingTopology.ADAPTER_STORE);

    // a legitimate adapter in the store: kept
    byte[] weights = new byte[2000];
    AdapterPayload.Encoded ok = AdapterPayload.encode("{}", weights, 1000, store);
    AdapterVersion good = byPath("good", ok.weightsPath(), ok.sha256());
    adapters.pipeInput(key(good), good);
    assertEquals(good, stored.get(key(good)));

    Path outside = Files.write(tmp.resolve("secret"), weights);
    List<String> hostile = List.of("/dev/zero", outside.toString(),
        store.resolve(ok.sha256()).resolve("../../secret").toString());
    for (String path : hostile) {
      AdapterVersion bad = byPath("evil", path, ok.sha256());
      byte[] original = topics.adapters.valueSerde().serializer().serialize(topics.adapters.name(), bad);
      adapters.pipeInput(key(bad), bad);
      DeadLetter dl = deadLetters.readValue();
      assertTrue(dl.getReason().contains("outside the adapter store"), dl.getReason());
      assertEquals(topics.adapters.name(), dl.getSourceTopic());
      assertEquals(java.nio.ByteBuffer.wrap(original), dl.getValue(), "the original bytes, so nothing is lost");
      assertNull(stored.get(key(bad)), "a refused adapter never reaches the adapter store: " + path);
    }
    assertTrue(deadLetters.isEmpty());

    // the user whose adapter was refused is answered cold, and nothing was loaded for them
    int loadsBefore = gen.loads;
    users.add("evil", "i1", Fixtures.item(Task.NEWS_HEADLINE, "storm", "L"));
    requests.pipeInput("evil", new AvroSerde<>(Request.class).encode(
        request("r1", "evil", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm"), "OPPU")));
    Response r = responses.readValue();
    assertNull(r.getAdapterVersion());
    assertTrue(r.getCold());
    assertEquals(loadsBefore, gen.loads);
  }

  private static AdapterVersion byPath(String user, String path, String sha) {
    return AdapterVersion.newBuilder(Fixtures.adapter(user, Task.NEWS_HEADLINE, "plain", 1,
            FakeGenerator.RUNNING.base(), FakeGenerator.RUNNING.task()))
        .setWeights(null).setWeightsPath(path).setWeightsSha256(sha).build();
  }

  private static String key(AdapterVersion v) {
    return Topics.adapterKey(v.getUserId(), v.getTask(), v.getVariant());
  }
}
