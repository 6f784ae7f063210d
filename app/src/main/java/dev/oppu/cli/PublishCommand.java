package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import dev.oppu.system.JsonLines;
import dev.oppu.system.Publisher;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code oppu publish}: JSON lines to Avro events on the behaviors or requests topic, keyed by user id. The options,
 * the report and the progress bar; reading, checking and sending are {@link Publisher}'s.
 */
@Command(name = "publish", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Publishes behaviors (or requests) written as JSON lines onto the behaviors (requests) topic as Avro, keyed "
            + "by userId, with an idempotent producer and acks=all.",
        "",
        "Behavior line: {\"eventId\"?, \"userId\", \"task\", \"eventTime\"?, \"itemId\"?, \"fields\": {...}}",
        "  task: LaMP_1, LaMP_2N, LaMP_2M, LaMP_3, LaMP_4, LaMP_5 or LaMP_7; fields: the task's LaMP item fields "
            + "(e.g. LaMP_2M {\"description\", \"tag\"}). eventTime: epoch ms or ISO-8601 (default: now). Without "
            + "eventId, an id derived from the line's content (republishing a line is then a duplicate, dropped).",
        "Request line: {\"requestId\", \"userId\", \"task\", \"input\", \"mode\"?, \"k\"?, \"deadline\"?}",
        "  input carries its task's LaMP marker; mode: non-personalized, RAG, PAG, OPPU, OPPU+RAG, OPPU+PAG.",
        "",
        "Bad lines: the whole file is checked first and every bad line is reported with its number (bad JSON, "
            + "missing or unknown key, unknown task, missing item field, bad time). If any line is bad NOTHING is "
            + "published (exit 2), unless --skip-bad: then the good lines are published and the bad ones listed. "
            + "Blank lines are ignored.",
        ""})
public final class PublishCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--file", required = true, paramLabel = "F.jsonl", description = "The JSON-lines file (UTF-8).")
  Path file;

  @Option(names = "--kind", defaultValue = "behaviors", paramLabel = "behaviors|requests",
      description = "What the lines are (default: ${DEFAULT-VALUE}).")
  String kind;

  @Option(names = "--skip-bad", description = "Publish the good lines even if some are bad (bad ones are listed).")
  boolean skipBad;

  @Option(names = "--no-create-topics",
      description = "Do not create missing oppu topics first (for clusters where this client may not create topics).")
  boolean noCreateTopics;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "" + TopicAdmin.DEFAULT_PARTITIONS,
      description = "Partitions of topics it has to create (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  /** Files with at least this many lines get a progress bar. */
  static final long PROGRESS_MIN_LINES = 1000;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    JsonLines.Kind k = JsonLines.Kind.of(kind);
    Publisher publisher = new Publisher(file, k, Clock.systemUTC());

    // Pass 1: check every line, so a bad file publishes nothing (unless --skip-bad).
    Publisher.Checked checked = publisher.check();
    List<String> bad = checked.bad();
    bad.forEach(err::println);
    err.flush();
    if (!bad.isEmpty() && !skipBad) {
      throw new IllegalArgumentException(bad.size() + " bad line(s) in " + file + " (listed above); nothing "
          + "published. Fix them, or give --skip-bad to publish the " + checked.good() + " good line(s).");
    }
    if (checked.duplicates() > 0) {
      err.printf("note: %d line(s) repeat an earlier %s id; ingestion drops such duplicates%n", checked.duplicates(),
          k == JsonLines.Kind.BEHAVIORS ? "event" : "request");
    }

    ClientConfig client = kafka.clientConfig();
    Topics topics = Topics.from(client.raw());
    if (!noCreateTopics) {
      TopicAdmin.ensureTopics(client.raw(), topics, partitions);
    }

    // Pass 2: publish the good lines.
    long total = checked.good();
    ProgressBar bar = total >= PROGRESS_MIN_LINES
        ? new ProgressBarBuilder().setTaskName("publish " + k.label).setInitialMax(total)
            .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).showSpeed().build()
        : null;
    long acked;
    try {
      acked = publisher.publish(client, checked, bar == null ? () -> { } : bar::step);
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    out.printf("published %d %s to %s at %s%s%n", acked, k.label, publisher.topic(topics).name(),
        client.bootstrapServers(), bad.isEmpty() ? "" : "; skipped " + bad.size() + " bad line(s) (listed above)");
    out.flush();
    return 0;
  }
}
