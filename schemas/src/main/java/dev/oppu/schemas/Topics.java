package dev.oppu.schemas;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The one typed registry of topics: every component takes names and serdes from here, so no serde is configured
 * twice. Names are configurable with {@code oppu.topic.<key>} properties (e.g. {@code oppu.topic.behaviors=...}).
 */
public final class Topics {

  /** A topic with its key and value serdes; {@code compacted} topics keep the latest value per key. */
  public record Topic<K, V>(String key, String name, Serde<K> keySerde, Serde<V> valueSerde, boolean compacted) {
    public Topic<K, V> named(String newName) {
      return new Topic<>(key, newName, keySerde, valueSerde, compacted);
    }
  }

  public static final Serde<String> KEY = Serdes.String();

  // User-facing topics: keyed by user id, so a user's behaviors and requests meet in the same partition.
  public final Topic<String, Behavior> behaviors;
  public final Topic<String, Request> requests;
  public final Topic<String, Response> responses;
  public final Topic<String, DeadLetter> deadLetters;
  // Internal topics.
  public final Topic<String, TrainTrigger> trainTriggers;
  public final Topic<String, TrainResult> trainResults;
  /** Compacted, keyed by {@code userId|task|variant}: the latest adapter of each. */
  public final Topic<String, AdapterVersion> adapters;
  /**
   * Keyed by user id, co-partitioned with behaviors: data-ownership commands (delete). Not compacted: a command
   * carries the user id and who asked, and leaves with the topic's retention.
   */
  public final Topic<String, UserCommand> userCommands;

  public static final String PREFIX = "oppu.topic.";

  private Topics(Map<String, String> names) {
    behaviors = new Topic<>("behaviors", names.get("behaviors"), KEY, new AvroSerde<>(Behavior.class), false);
    requests = new Topic<>("requests", names.get("requests"), KEY, new AvroSerde<>(Request.class), false);
    responses = new Topic<>("responses", names.get("responses"), KEY, new AvroSerde<>(Response.class), false);
    deadLetters = new Topic<>("dead-letters", names.get("dead-letters"), KEY, new AvroSerde<>(DeadLetter.class), false);
    trainTriggers = new Topic<>("train-triggers", names.get("train-triggers"), KEY, new AvroSerde<>(TrainTrigger.class), false);
    trainResults = new Topic<>("train-results", names.get("train-results"), KEY, new AvroSerde<>(TrainResult.class), false);
    adapters = new Topic<>("adapters", names.get("adapters"), KEY, new AvroSerde<>(AdapterVersion.class), true);
    userCommands = new Topic<>("user-commands", names.get("user-commands"), KEY, new AvroSerde<>(UserCommand.class),
        false);
  }

  /** Default names ({@code oppu.behaviors}, ...). */
  public static Topics defaults() {
    return from(new Properties());
  }

  /** Names from {@code oppu.topic.<key>} properties, defaulting to {@code oppu.<key>}. */
  public static Topics from(Properties props) {
    Map<String, String> names = new java.util.HashMap<>();
    for (String key : KEYS) {
      names.put(key, props.getProperty(PREFIX + key, "oppu." + key));
    }
    return new Topics(names);
  }

  public static final List<String> KEYS =
      List.of("behaviors", "requests", "responses", "dead-letters", "train-triggers", "train-results", "adapters",
          "user-commands");

  public List<Topic<String, ?>> all() {
    return List.of(behaviors, requests, responses, deadLetters, trainTriggers, trainResults, adapters, userCommands);
  }

  /** Adapter topic key: one adapter per (user, task, variant). */
  public static String adapterKey(String userId, String task, String variant) {
    return userId + "|" + task + "|" + variant;
  }

  /** The user id of an adapter key {@code user|task|variant} (user ids may contain '|': split from the right). */
  public static String userOfAdapterKey(String adapterKey) {
    int last = adapterKey.lastIndexOf('|');
    int prev = last <= 0 ? -1 : adapterKey.lastIndexOf('|', last - 1);
    if (prev < 0) {
      throw new IllegalArgumentException("not an adapter key (user|task|variant): " + adapterKey);
    }
    return adapterKey.substring(0, prev);
  }
}
