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
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving never follows an adapter record's weights path out of the adapter store: such a record is dead-lettered
 * with the reason and its original bytes, never stored, never loaded, and the user is answered without it.
 */
class AdapterStorePathTest {
  private final Topics topics = Topics.defaults(); // the driver's too
  private final FakeGenerator gen = new FakeGenerator();
  private final MapUserData users = new MapUserData();
  private ServingDriver serving;

  @AfterEach
  void close() {
    if (serving != null) {
      serving.close();
    }
  }

  @Test
  void aWeightsPathOutsideTheStoreIsDeadLetteredAndNeverUsed(@TempDir Path tmp) throws Exception {
    Path store = Files.createDirectories(tmp.resolve("adapter-store"));
    ServingConfig config = ServingConfig.defaults().withMaxBatch(1).withAdapterStore(store);
    serving = new ServingDriver(config, gen, new AdapterCache(config.cacheMaxAdapters(), config.cacheMaxBytes()),
        users, java.time.Clock.systemUTC(), Instant.now(), tmp.resolve("state"));
    TestInputTopic<String, byte[]> requests = serving.requests;
    TestInputTopic<String, AdapterVersion> adapters = serving.adapters;
    TestOutputTopic<String, Response> responses = serving.responses;
    TestOutputTopic<String, DeadLetter> deadLetters = serving.deadLetters;
    KeyValueStore<String, AdapterVersion> stored = serving.driver.getKeyValueStore(StoreNames.ADAPTER_STORE);

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
