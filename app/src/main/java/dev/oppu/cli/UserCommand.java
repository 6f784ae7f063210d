package dev.oppu.cli;

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
import dev.oppu.serving.StreamsApp;
import dev.oppu.trainer.service.AdapterRecords;
import java.io.PrintWriter;
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
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code oppu user export|delete}: a user's data, out of the system or erased from it. Both read what the system keeps
 * about the user from Kafka (see {@link UserDataScan}): the streams application's store changelogs and the adapters
 * topic, so they work from any machine that reaches the brokers, while the application runs or not.
 */
@Command(name = "user", mixinStandardHelpOptions = true,
    description = "Your data: export a user's adapters and history, or erase everything the system keeps about them.",
    subcommands = {UserCommand.Export.class, UserCommand.Delete.class, CommandLine.HelpCommand.class})
public final class UserCommand implements Runnable {

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Options both subcommands share. */
  static final class Target {
    @Option(names = "--user", required = true, paramLabel = "U", description = "User id.")
    String user;

    @Option(names = "--application-id", defaultValue = StreamsApp.APPLICATION_ID, paramLabel = "ID",
        description = "Application id of 'oppu run streams' (its store changelogs are <ID>-<store>-changelog; "
            + "default: ${DEFAULT-VALUE}).")
    String applicationId;

    @Option(names = "--timeout-ms", defaultValue = "120000", paramLabel = "MS",
        description = "How long to wait for Kafka (and, for delete, for the deletion to be applied; default: "
            + "${DEFAULT-VALUE}).")
    long timeoutMs;

    /** The trainer's adapter store: export reads only files there, delete removes the user's files there. */
    @Mixin
    AdapterStoreOptions adapterStore = new AdapterStoreOptions();

    void validate() {
      if (user.isBlank() || user.indexOf('\u0000') >= 0) {
        throw new IllegalArgumentException("--user must be a non-empty user id without NUL characters");
      }
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Writes the user's adapters in PEFT format (OUT/adapters/<task>/<variant>/adapter_config.json and"
          + " adapter_model.safetensors, loadable by PEFT or 'LoraAdapter.loadPeft', plus oppu_adapter.json with the"
          + " version, losses and the base-model and task-adapter fingerprints it was trained on) and the user's"
          + " retained history with the profile built from it (OUT/history.json).",
          "Exit code 0 on success, 2 on bad input, 3 when Kafka could not be read within --timeout-ms.", ""})
  static final class Export implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Target target = new Target();

    @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: oppu-export-<user>).")
    Path out;

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() throws Exception {
      target.validate();
      PrintWriter stdout = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      ClientConfig client = kafka.clientConfig();
      Topics topics = Topics.from(client.raw());
      Path dir = out != null ? out : Path.of("oppu-export-" + target.user.replaceAll("[^A-Za-z0-9._-]", "_"));
      try (UserDataScan scan = new UserDataScan(client, topics, target.applicationId, target.user)) {
        if (!caughtUp(scan, target, err)) {
          return 3;
        }
        Files.createDirectories(dir);
        Map<String, List<HistoryItem>> history = scan.history(target.applicationId);
        writeHistory(dir.resolve("history.json"), target.user, history);
        Map<String, AdapterVersion> adapters = scan.adapters(topics);
        for (AdapterVersion v : adapters.values()) {
          writeAdapter(dir.resolve("adapters").resolve(safe(v.getTask())).resolve(safe(v.getVariant())), v,
              target.adapterStore.adapterStore(kafka.clientConfig().raw()));
        }
        int items = history.values().stream().mapToInt(List::size).sum();
        stdout.printf("exported user %s to %s: %d history item(s) in %d task(s), %d adapter(s)%n", target.user,
            dir.toAbsolutePath(), items, history.size(), adapters.size());
        stdout.flush();
        return 0;
      }
    }

    private static void writeHistory(Path file, String user, Map<String, List<HistoryItem>> history)
        throws Exception {
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
          item.put("fields", new java.util.TreeMap<>(h.getFields()));
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

    private static void writeAdapter(Path dir, AdapterVersion v, Path store) throws Exception {
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
      meta.put("label_distribution", new java.util.TreeMap<>(v.getLabelDistribution()));
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("oppu_adapter.json")
          .toFile(), meta);
    }

    private static Double finiteOrNull(double d) {
      return Double.isFinite(d) ? d : null;
    }

    private static String safe(String s) {
      return s.replaceAll("[^A-Za-z0-9._-]", "_");
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Erases the user's history, BM25 index, profile, train state, duplicate-detection entries and "
          + "adapters: sends a delete command on the user-commands topic; 'oppu run streams' removes every key of "
          + "the user from its stores (their changelogs get tombstones), tombstones every adapter key of the user, "
          + "answers the user's waiting requests with an error and drops its caches; a training under way for the"
          + " user publishes nothing (or is tombstoned again and never served). Then waits until no record of the "
          + "user is left in the compacted topics, and removes the user's adapter files from --adapter-store.",
          "The raw topics (behaviors, requests, responses, train-triggers, train-results, dead-letters) are not "
              + "compacted: they keep the user's records until their retention expires (see the README).",
          "Exit code 0 when the deletion was applied, 2 on bad input, 3 when it was not confirmed within "
              + "--timeout-ms (is 'oppu run streams' running?).", ""})
  static final class Delete implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Target target = new Target();

    @Option(names = "--no-wait", description = "Send the command and return, without waiting for it to be applied.")
    boolean noWait;

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() throws Exception {
      target.validate();
      PrintWriter stdout = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      ClientConfig client = kafka.clientConfig();
      Topics topics = Topics.from(client.raw());
      long giveUp = System.nanoTime() + Duration.ofMillis(target.timeoutMs).toNanos();
      try (UserDataScan scan = new UserDataScan(client, topics, target.applicationId, target.user)) {
        if (!caughtUp(scan, target, err)) {
          return 3;
        }
        Map<String, Integer> before = scan.counts();
        // adapter files to remove: the user's versions now, and any published while the deletion is applied
        Set<String> files = new LinkedHashSet<>();
        scan.adapters(topics).values().forEach(v -> addPath(files, v));
        String commandId = UUID.randomUUID().toString();
        dev.oppu.schemas.UserCommand cmd = dev.oppu.schemas.UserCommand.newBuilder().setCommandId(commandId)
            .setUserId(target.user).setAction(UserAction.DELETE).setRequestedAt(Instant.now()).build();
        try (KafkaProducer<String, dev.oppu.schemas.UserCommand> producer = new KafkaProducer<>(client.producer(),
            Serdes.String().serializer(), topics.userCommands.valueSerde().serializer())) {
          producer.send(new ProducerRecord<>(topics.userCommands.name(), target.user, cmd)).get();
        }
        stdout.printf("delete command %s for user %s sent to %s (records of the user before: %s)%n", commandId,
            target.user, topics.userCommands.name(), before);
        stdout.flush();
        if (noWait) {
          removeFiles(files, stdout, err);
          return 0;
        }
        while (true) {
          scan.catchUp(Duration.ofNanos(Math.max(0, giveUp - System.nanoTime())));
          scan.adapters(topics).values().forEach(v -> addPath(files, v));
          if (!scan.anyDataLeft()) {
            break;
          }
          if (System.nanoTime() > giveUp) {
            err.printf("the deletion of user %s was not applied within %d ms (is 'oppu run streams' running with "
                + "application id %s?); records left: %s%n", target.user, target.timeoutMs, target.applicationId,
                scan.counts());
            return 3;
          }
          scan.poll(Duration.ofMillis(200));
        }
        removeFiles(files, stdout, err);
        stdout.printf("user %s deleted: no record of the user is left in the store changelogs or the adapters topic"
            + "%n", target.user);
        if (scan.fenced()) {
          stdout.println("trainings for the user were under way: they are fenced (an adapter they publish is "
              + "tombstoned and never served); the fence holds the user id and their trigger ids only, and ends "
              + "when they are answered");
        }
        stdout.flush();
        return 0;
      }
    }

    private void addPath(Set<String> files, AdapterVersion v) {
      if (v.getWeightsPath() != null) {
        files.add(v.getWeightsPath());
      }
    }

    private void removeFiles(Set<String> files, PrintWriter stdout, PrintWriter err) {
      int removed = 0;
      for (String f : files) {
        try {
          if (AdapterPayload.deleteStored(target.adapterStore.adapterStore(kafka.clientConfig().raw()), f)) {
            removed++;
          } else if (Files.exists(Path.of(f))) {
            err.printf("adapter file %s is outside --adapter-store %s: left in place%n", f, target.adapterStore.adapterStore(kafka.clientConfig().raw()));
          }
        } catch (java.io.IOException e) {
          err.printf("could not remove adapter file %s: %s%n", f, e.getMessage());
        }
      }
      if (removed > 0) {
        stdout.printf("removed %d stored adapter file set(s) from %s%n", removed, target.adapterStore.adapterStore(kafka.clientConfig().raw()));
      }
    }
  }

  /** Reads the user's topics to their end (warning about missing ones); false, with the reason, on a time-out. */
  private static boolean caughtUp(UserDataScan scan, Target target, PrintWriter err) {
    warnMissing(scan, err);
    if (scan.catchUp(Duration.ofMillis(target.timeoutMs))) {
      return true;
    }
    err.printf("could not read the user's topics to their end within %d ms%n", target.timeoutMs);
    return false;
  }

  private static void warnMissing(UserDataScan scan, PrintWriter err) {
    if (!scan.missingTopics().isEmpty()) {
      err.printf("note: topics not found (nothing to read there; is --application-id right?): %s%n",
          scan.missingTopics());
      err.flush();
    }
  }
}
