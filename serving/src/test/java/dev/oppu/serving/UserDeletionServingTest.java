package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.item;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import dev.oppu.streams.IngestConfig;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A user deletion in the {@code run streams} application, serving side: waiting requests, adapters, caches. */
class UserDeletionServingTest {
  private static final String BASE = FakeGenerator.RUNNING.base();
  private static final String TASK_FP = FakeGenerator.RUNNING.task();
  private final Topics topics = Topics.defaults();
  private final FakeGenerator gen = new FakeGenerator();
  private final AdapterCache cache = new AdapterCache(8, 1 << 20);
  private TopologyTestDriver driver;
  private TestInputTopic<String, Behavior> behaviors;
  private TestInputTopic<String, byte[]> requests;
  private TestInputTopic<String, AdapterVersion> adapters;
  private TestInputTopic<String, UserCommand> commands;
  private TestOutputTopic<String, Response> responses;
  private TestOutputTopic<String, TrainTrigger> triggers;
  private int events;

  @BeforeEach
  void start(@TempDir Path state) {
    ServingConfig cfg = ServingConfig.defaults().withMaxBatch(3);
    IngestConfig ingest = IngestConfig.defaults().withTriggers(3, 1000, 5, 5, 0.4);
    Properties o = new Properties();
    o.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
    driver = new TopologyTestDriver(StreamsApp.topology(topics, ingest, cfg, gen, cache, GivenProfiles.none()),
        StreamsApp.config("deletion-test", "dummy:9092", cfg, o), Instant.now());
    behaviors = driver.createInputTopic(topics.behaviors.name(), Serdes.String().serializer(),
        topics.behaviors.valueSerde().serializer());
    requests = driver.createInputTopic(topics.requests.name(), Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
    adapters = driver.createInputTopic(topics.adapters.name(), Serdes.String().serializer(),
        topics.adapters.valueSerde().serializer());
    commands = driver.createInputTopic(topics.userCommands.name(), Serdes.String().serializer(),
        topics.userCommands.valueSerde().serializer());
    responses = driver.createOutputTopic(topics.responses.name(), Serdes.String().deserializer(),
        topics.responses.valueSerde().deserializer());
    triggers = driver.createOutputTopic(topics.trainTriggers.name(), Serdes.String().deserializer(),
        topics.trainTriggers.valueSerde().deserializer());
  }

  @AfterEach
  void stop() {
    driver.close();
    cache.close();
  }

  private void behave(String user, Task task, Map<String, String> fields) {
    behaviors.pipeInput(user, Behavior.newBuilder().setEventId("e" + (++events)).setUserId(user).setTask(task.id())
        .setEventTime(Instant.now()).setItemId("i" + events).setFields(fields).build());
  }

  private void ask(Request r) {
    requests.pipeInput(r.getUserId(), new AvroSerde<>(Request.class).encode(r));
  }

  private void delete(String user) {
    commands.pipeInput(user, UserCommand.newBuilder().setCommandId("c1").setUserId(user)
        .setAction(UserAction.DELETE).setRequestedAt(Instant.now()).build());
  }

  private List<String> keys(String store) {
    KeyValueStore<String, ?> s = driver.getKeyValueStore(store);
    List<String> out = new ArrayList<>();
    try (KeyValueIterator<String, ?> it = s.all()) {
      it.forEachRemaining(kv -> out.add(kv.key));
    }
    return out;
  }

  private static final List<Map<String, String>> NEWS = List.of(
      item(Task.NEWS_CATEGORIZE, "the senate votes on a budget", "politics"),
      item(Task.NEWS_CATEGORIZE, "new tax plan debated", "politics"));

  @Test
  void waitingRequestsAdaptersAndCachedProfilesOfTheUserGo() {
    for (String u : List.of("u1", "u2")) {
      NEWS.forEach(f -> behave(u, Task.NEWS_CATEGORIZE, f));
      adapters.pipeInput(Topics.adapterKey(u, Task.NEWS_CATEGORIZE.id(), "plain"),
          Fixtures.adapter(u, Task.NEWS_CATEGORIZE, "plain", 4, BASE, TASK_FP));
    }
    // Batches of 3: a PAG and an OPPU request of u1 and a PAG of u2 are served (profile built and cached, adapters
    // loaded into the cache).
    ask(request("a", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget"), "PAG"));
    ask(request("b", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget"), "OPPU"));
    ask(request("c", "u2", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget"), "OPPU"));
    assertEquals(3, responses.readValuesToList().size());
    String u1Key = Topics.adapterKey("u1", Task.NEWS_CATEGORIZE.id(), "plain");
    String u2Key = Topics.adapterKey("u2", Task.NEWS_CATEGORIZE.id(), "plain");
    assertNotNull(cache.cachedVersion(u1Key));
    // Two requests wait for their batch: u1's and u2's.
    ask(request("w1", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "votes"), "PAG"));
    ask(request("w2", "u2", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "votes"), "PAG"));
    assertEquals(2, keys(StoreNames.PENDING_STORE).size());

    delete("u1");

    List<Response> answered = responses.readValuesToList();
    assertEquals(1, answered.size(), "u1's waiting request is answered, with an error");
    assertEquals("w1", answered.get(0).getRequestId());
    assertTrue(answered.get(0).getError().contains("deleted"), answered.get(0).getError());
    assertEquals(1, keys(StoreNames.PENDING_STORE).size(), "u2's request still waits");
    assertEquals(List.of(u2Key), keys(StoreNames.ADAPTER_STORE));
    assertNull(cache.cachedVersion(u1Key));
    assertNotNull(cache.cachedVersion(u2Key));

    // u1 comes back with other items at the same seqs: the profile is built from them, not from a cached one.
    List<Map<String, String>> sports = List.of(item(Task.NEWS_CATEGORIZE, "the team wins the cup", "sports"),
        item(Task.NEWS_CATEGORIZE, "a record in the marathon", "sports"));
    sports.forEach(f -> behave("u1", Task.NEWS_CATEGORIZE, f));
    int before = gen.allRows().size();
    ask(request("n1", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "cup"), "PAG"));
    ask(request("n2", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "cup"), "OPPU"));
    List<Response> after = responses.readValuesToList();
    assertEquals(List.of("w2", "n1", "n2"), after.stream().map(Response::getRequestId).toList());
    String prompt = gen.allRows().get(before + 1).prompt();
    assertTrue(prompt.startsWith(Profiles.fromHistory(Task.NEWS_CATEGORIZE, sports)), prompt);
    assertFalse(prompt.contains("senate"), prompt);
    Response oppu = after.get(2);
    assertNull(oppu.getAdapterVersion(), "the deleted adapter is not used");
    assertTrue(oppu.getCold());
  }

  @Test
  void anAdapterOfATrainingFencedByTheDeletionIsNeverServed() {
    for (int i = 0; i < 3; i++) {
      behave("u1", Task.NEWS_CATEGORIZE, item(Task.NEWS_CATEGORIZE, "budget story " + i, "politics"));
    }
    TrainTrigger pending = triggers.readValue();
    delete("u1");
    // The training finishes after the deletion and publishes anyway.
    AdapterVersion late = AdapterVersion.newBuilder(Fixtures.adapter("u1", Task.NEWS_CATEGORIZE, "plain", 1, BASE,
        TASK_FP)).setTriggerId(pending.getTriggerId()).build();
    adapters.pipeInput(Topics.adapterKey("u1", Task.NEWS_CATEGORIZE.id(), "plain"), late);
    for (int i = 0; i < 3; i++) {
      ask(request("q" + i, "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget"), "OPPU"));
    }
    List<Response> answers = responses.readValuesToList();
    assertEquals(3, answers.size(), "each request answered");
    for (Response r : answers) {
      assertNull(r.getError());
      assertNull(r.getAdapterVersion(), "a fenced training's adapter is not served");
      assertTrue(r.getCold());
    }
    assertTrue(keys(StoreNames.ADAPTER_STORE).isEmpty(), "tombstoned again: " + keys(StoreNames.ADAPTER_STORE));
    List<KeyValue<String, AdapterVersion>> out = driver.createOutputTopic(topics.adapters.name(),
        Serdes.String().deserializer(), topics.adapters.valueSerde().deserializer()).readKeyValuesToList();
    KeyValue<String, AdapterVersion> last = out.get(out.size() - 1);
    assertEquals(Topics.adapterKey("u1", Task.NEWS_CATEGORIZE.id(), "plain"), last.key);
    assertNull(last.value);
  }
}
