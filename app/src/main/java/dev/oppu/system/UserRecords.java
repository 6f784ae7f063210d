package dev.oppu.system;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import dev.oppu.trainer.service.AdapterRecords;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;

/**
 * One user's data in the running system, for export and erasure ({@code oppu user export|delete}). It reads what the
 * system keeps about the user from Kafka (see {@link UserDataScan}): the streams application's store changelogs and
 * the adapters topic, so it works from any machine that reaches the brokers, while the application runs or not.
 *
 * <pre>
 * try (UserRecords user = new UserRecords(client, applicationId, "ann", adapterStore)) {
 *   if (user.catchUp(timeout)) { user.export(dir); }
 * }
 * </pre>
 */
public final class UserRecords implements AutoCloseable {

  /** What an export wrote. */
  public record Exported(int historyItems, int tasks, int adapters) {}

  /** A stored adapter file a deletion left in place: outside the adapter store ({@code error} null), or failed. */
  public record FileLeft(String file, String error) {}

  /** The stored adapter files a deletion removed, and those it left. */
  public record FilesRemoved(int removed, List<FileLeft> left) {}

  private final ClientConfig client;
  private final Topics topics;
  private final String applicationId;
  private final String user;
  private final Path adapterStore;
  private final UserDataScan scan;
  /** Adapter files to remove: the user's versions seen so far (more may be published while a deletion is applied). */
  private final Set<String> files = new LinkedHashSet<>();

  /**
   * Starts reading the user's topics from their beginning.
   *
   * @param applicationId application id of the streams application (its changelogs are {@code <id>-<store>-changelog})
   * @param adapterStore the trainer's adapter store: export reads only files there, delete removes the user's there
   */
  public UserRecords(ClientConfig client, String applicationId, String user, Path adapterStore) {
    this.client = client;
    this.topics = Topics.from(client.raw());
    this.applicationId = applicationId;
    this.user = user;
    this.adapterStore = adapterStore;
    this.scan = new UserDataScan(client, topics, applicationId, user);
  }

  /** Topics that would hold user data but do not exist (e.g. the streams application never ran with this id). */
  public List<String> missingTopics() {
    return scan.missingTopics();
  }

  /** Reads the user's topics to their end (as of now); false if that took longer than {@code timeout}. */
  public boolean catchUp(Duration timeout) {
    return scan.catchUp(timeout);
  }

  /** Live records of the user per topic (topics with none left out). */
  public Map<String, Integer> counts() {
    return scan.counts();
  }

  /** Whether a deletion fence of the user is live (trainings under way at the deletion). */
  public boolean fenced() {
    return scan.fenced();
  }

  /** The adapter store export reads from and delete cleans. */
  public Path adapterStore() {
    return adapterStore;
  }

  /** The topic delete commands go to. */
  public String userCommandsTopic() {
    return topics.userCommands.name();
  }

  /**
   * Writes the user's adapters in PEFT format ({@code dir/adapters/<task>/<variant>/}, plus {@code oppu_adapter.json})
   * and the user's retained history with the profile built from it ({@code dir/history.json}). Call after
   * {@link #catchUp}.
   */
  public Exported export(Path dir) throws IOException {
    Files.createDirectories(dir);
    Map<String, List<HistoryItem>> history = scan.history(applicationId);
    writeHistory(dir.resolve("history.json"), user, history);
    Map<String, AdapterVersion> adapters = scan.adapters(topics);
    for (AdapterVersion v : adapters.values()) {
      writeAdapter(dir.resolve("adapters").resolve(safe(v.getTask())).resolve(safe(v.getVariant())), v, adapterStore);
    }
    int items = history.values().stream().mapToInt(List::size).sum();
    return new Exported(items, history.size(), adapters.size());
  }

  /** Who the commands this sends say asked: {@link ClientConfig#principalName} of its client. */
  public String requestedBy() {
    return client.principalName();
  }

  /**
   * Sends a delete command for the user on the user-commands topic and returns its id; the command records who asked
   * ({@link ClientConfig#principalName}: this client's SASL user name, else anonymous). The user's adapter files
   * known now are remembered for {@link #removeAdapterFiles}. Call after {@link #catchUp}.
   */
  public String sendDelete() throws Exception {
    rememberAdapterFiles();
    String commandId = UUID.randomUUID().toString();
    UserCommand cmd = UserCommand.newBuilder().setCommandId(commandId).setUserId(user).setAction(UserAction.DELETE)
        .setRequestedAt(Instant.now()).setRequestedBy(client.principalName()).build();
    try (KafkaProducer<String, UserCommand> producer = new KafkaProducer<>(client.producer(),
        Serdes.String().serializer(), topics.userCommands.valueSerde().serializer())) {
      producer.send(new ProducerRecord<>(topics.userCommands.name(), user, cmd)).get();
    }
    return commandId;
  }

  /**
   * Tails the user's topics until no record of the user is left (the deletion fence aside), remembering adapter
   * versions published meanwhile; false if that did not happen within {@code timeout}.
   */
  public boolean awaitDeleted(Duration timeout) {
    long giveUp = System.nanoTime() + timeout.toNanos();
    while (true) {
      scan.catchUp(Duration.ofNanos(Math.max(0, giveUp - System.nanoTime())));
      rememberAdapterFiles();
      if (!scan.anyDataLeft()) {
        return true;
      }
      if (System.nanoTime() > giveUp) {
        return false;
      }
      scan.poll(Duration.ofMillis(200));
    }
  }

  /** Removes the stored adapter files of the user's versions seen, from the adapter store only. */
  public FilesRemoved removeAdapterFiles() {
    int removed = 0;
    List<FileLeft> left = new ArrayList<>();
    for (String f : files) {
      try {
        if (AdapterPayload.deleteStored(adapterStore, f)) {
          removed++;
        } else if (Files.exists(Path.of(f))) {
          left.add(new FileLeft(f, null));
        }
      } catch (IOException e) {
        left.add(new FileLeft(f, e.getMessage()));
      }
    }
    return new FilesRemoved(removed, left);
  }

  private void rememberAdapterFiles() {
    for (AdapterVersion v : scan.adapters(topics).values()) {
      if (v.getWeightsPath() != null) {
        files.add(v.getWeightsPath());
      }
    }
  }

  private static void writeHistory(Path file, String user, Map<String, List<HistoryItem>> history)
      throws IOException {
    Map<String, Object> tasks = new LinkedHashMap<>();
    for (Map.Entry<String, List<HistoryItem>> e : history.entrySet()) {
      List<Map<String, Object>> items = new ArrayList<>();
      List<Map<String, String>> fields = new ArrayList<>();
      for (HistoryItem h : e.getValue()) {
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("seq", h.getSeq());
        item.put("event_id", h.getEventId());
        item.put("item_id", h.getItemId());
        item.put("event_time", h.getEventTime().toString());
        item.put("arrival_time", h.getArrivalTime().toString());
        item.put("fields", new TreeMap<>(h.getFields()));
        items.add(item);
        fields.add(h.getFields());
      }
      Map<String, Object> task = new LinkedHashMap<>();
      task.put("items", items);
      try {
        // the profile serving builds from this history for PAG (unless a given profile file overrides it)
        task.put("profile", Profiles.fromHistory(Task.of(e.getKey()), fields));
      } catch (RuntimeException unknownTask) {
        task.put("profile", null);
      }
      tasks.put(e.getKey(), task);
    }
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("user_id", user);
    doc.put("exported_at", Instant.now().toString());
    doc.put("tasks", tasks);
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), doc);
  }

  private static void writeAdapter(Path dir, AdapterVersion v, Path store) throws IOException {
    // verified against the record's SHA-256, inline or from the adapter store
    AdapterPayload.writePeftDirectory(dir, v.getAdapterConfig(), AdapterRecords.weights(v, store));
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("user_id", v.getUserId());
    meta.put("task", v.getTask());
    meta.put("variant", v.getVariant());
    meta.put("version", v.getVersion());
    meta.put("published_at", v.getPublishedAt().toString());
    meta.put("covered_seq", v.getCoveredSeq());
    meta.put("items_trained", v.getItemsTrained());
    meta.put("loss_before", finiteOrNull(v.getLossBefore()));
    meta.put("loss_after", finiteOrNull(v.getLossAfter()));
    meta.put("base_fingerprint", v.getBaseFingerprint());
    meta.put("task_fingerprint", v.getTaskFingerprint());
    meta.put("weights_sha256", v.getWeightsSha256());
    meta.put("label_distribution", new TreeMap<>(v.getLabelDistribution()));
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("oppu_adapter.json")
        .toFile(), meta);
  }

  private static Double finiteOrNull(double d) {
    return Double.isFinite(d) ? d : null;
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  @Override
  public void close() {
    scan.close();
  }
}
