package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.system.UserRecords;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code oppu user export|delete}: a user's data, out of the system or erased from it. Both read what the system keeps
 * about the user from Kafka (see {@link UserRecords}): the streams application's store changelogs and the adapters
 * topic, so they work from any machine that reaches the brokers, while the application runs or not. The commands
 * hold the options and the printing; the reading, writing and erasing are {@link UserRecords}'.
 */
@Command(name = "user", mixinStandardHelpOptions = true,
    description = "Your data: export a user's adapters and history, or erase everything the system keeps about them.",
    subcommands = {UserCommand.Export.class, UserCommand.Delete.class, CommandLine.HelpCommand.class})
public final class UserCommand extends GroupCommand {

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

    /** Starts reading the user's topics. */
    UserRecords open(ClientConfig client) {
      return new UserRecords(client, applicationId, user, adapterStore.adapterStore(client.raw()));
    }

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
      Path dir = out != null ? out : Path.of("oppu-export-" + target.user.replaceAll("[^A-Za-z0-9._-]", "_"));
      try (UserRecords records = target.open(client)) {
        if (!caughtUp(records, target, err)) {
          return 3;
        }
        UserRecords.Exported e = records.export(dir);
        stdout.printf("exported user %s to %s: %d history item(s) in %d task(s), %d adapter(s)%n", target.user,
            dir.toAbsolutePath(), e.historyItems(), e.tasks(), e.adapters());
        stdout.flush();
        return 0;
      }
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
      long giveUp = System.nanoTime() + Duration.ofMillis(target.timeoutMs).toNanos();
      try (UserRecords records = target.open(kafka.clientConfig())) {
        if (!caughtUp(records, target, err)) {
          return 3;
        }
        Map<String, Integer> before = records.counts();
        String commandId = records.sendDelete();
        stdout.printf("delete command %s for user %s sent to %s as %s (records of the user before: %s)%n",
            commandId, target.user, records.userCommandsTopic(), records.requestedBy(), before);
        stdout.flush();
        if (noWait) {
          removeFiles(records, stdout, err);
          return 0;
        }
        if (!records.awaitDeleted(Duration.ofNanos(Math.max(0, giveUp - System.nanoTime())))) {
          err.printf("the deletion of user %s was not applied within %d ms (is 'oppu run streams' running with "
              + "application id %s?); records left: %s%n", target.user, target.timeoutMs, target.applicationId,
              records.counts());
          return 3;
        }
        removeFiles(records, stdout, err);
        stdout.printf("user %s deleted: no record of the user is left in the store changelogs or the adapters topic"
            + "%n", target.user);
        if (records.fenced()) {
          stdout.println("trainings for the user were under way: they are fenced (an adapter they publish is "
              + "tombstoned and never served); the fence holds the user id and their trigger ids only, and ends "
              + "when they are answered");
        }
        stdout.flush();
        return 0;
      }
    }

    private void removeFiles(UserRecords records, PrintWriter stdout, PrintWriter err) {
      Path store = records.adapterStore();
      UserRecords.FilesRemoved r = records.removeAdapterFiles();
      for (UserRecords.FileLeft left : r.left()) {
        if (left.error() == null) {
          err.printf("adapter file %s is outside --adapter-store %s: left in place%n", left.file(), store);
        } else {
          err.printf("could not remove adapter file %s: %s%n", left.file(), left.error());
        }
      }
      if (r.removed() > 0) {
        stdout.printf("removed %d stored adapter file set(s) from %s%n", r.removed(), store);
      }
    }
  }

  /** Reads the user's topics to their end (warning about missing ones); false, with the reason, on a time-out. */
  private static boolean caughtUp(UserRecords records, Target target, PrintWriter err) {
    if (!records.missingTopics().isEmpty()) {
      err.printf("note: topics not found (nothing to read there; is --application-id right?): %s%n",
          records.missingTopics());
      err.flush();
    }
    if (records.catchUp(Duration.ofMillis(target.timeoutMs))) {
      return true;
    }
    err.printf("could not read the user's topics to their end within %d ms%n", target.timeoutMs);
    return false;
  }
}
