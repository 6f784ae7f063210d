package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code oppu publish}: JSON lines to Avro events on the behaviors or requests topic, keyed by user id. */
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
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no such file: " + file);
    }
    JsonLines parser = new JsonLines(Clock.systemUTC());

    // Pass 1: check every line, so a bad file publishes nothing (unless --skip-bad).
    List<String> bad = new ArrayList<>();
    Set<Long> badLines = new HashSet<>();
    Set<String> ids = new HashSet<>();
    long[] counts = new long[3]; // good, duplicate ids, blank
    forEachLine((no, line) -> {
      if (line.isBlank()) {
        counts[2]++;
        return;
      }
      try {
        SpecificRecord r = parser.parse(k, line);
        counts[0]++;
        if (!ids.add(id(r))) {
          counts[1]++;
        }
      } catch (JsonLines.BadLineException e) {
        bad.add(file + ":" + no + ": " + e.getMessage());
        badLines.add(no);
      }
    });
    bad.forEach(err::println);
    err.flush();
    if (!bad.isEmpty() && !skipBad) {
      throw new IllegalArgumentException(bad.size() + " bad line(s) in " + file + " (listed above); nothing "
          + "published. Fix them, or give --skip-bad to publish the " + counts[0] + " good line(s).");
    }
    if (counts[1] > 0) {
      err.printf("note: %d line(s) repeat an earlier %s id; ingestion drops such duplicates%n", counts[1],
          k == JsonLines.Kind.BEHAVIORS ? "event" : "request");
    }

    ClientConfig client = kafka.clientConfig();
    Topics topics = Topics.from(client.raw());
    Topics.Topic<String, ? extends SpecificRecord> topic = k == JsonLines.Kind.BEHAVIORS ? topics.behaviors : topics.requests;
    if (!noCreateTopics) {
      TopicAdmin.ensureTopics(client.raw(), topics, partitions);
    }

    // Pass 2: publish the good lines.
    @SuppressWarnings("unchecked")
    Serializer<SpecificRecord> valueSerializer = (Serializer<SpecificRecord>) topic.valueSerde().serializer();
    AtomicLong acked = new AtomicLong();
    AtomicReference<Exception> failure = new AtomicReference<>();
    long total = counts[0];
    ProgressBar bar = total >= PROGRESS_MIN_LINES
        ? new ProgressBarBuilder().setTaskName("publish " + k.label).setInitialMax(total)
            .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).showSpeed().build()
        : null;
    // One request in flight: a user's later events must not overtake a refused first batch (see burstProducer).
    try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(client.burstProducer(),
        Topics.KEY.serializer(), valueSerializer)) {
      forEachLine((no, line) -> {
        if (line.isBlank() || badLines.contains(no) || failure.get() != null) {
          return;
        }
        SpecificRecord r;
        try {
          r = parser.parse(k, line);
        } catch (JsonLines.BadLineException e) {
          throw new IllegalStateException(file + ":" + no + " changed while publishing: " + e.getMessage());
        }
        // Behaviors: the producer timestamp is the event time (the topic's LogAppendTime replaces it on arrival).
        Long ts = r instanceof dev.oppu.schemas.Behavior b ? b.getEventTime().toEpochMilli() : null;
        producer.send(new ProducerRecord<>(topic.name(), null, ts, JsonLines.key(r), r), (md, ex) -> {
          if (ex != null) {
            failure.compareAndSet(null, ex);
          } else {
            acked.incrementAndGet();
            if (bar != null) {
              bar.step();
            }
          }
        });
      });
      producer.flush();
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    if (failure.get() != null) {
      throw new IllegalStateException("publishing to " + topic.name() + " failed after " + acked.get() + " of "
          + total + " record(s) were acknowledged: " + failure.get().getMessage(), failure.get());
    }
    out.printf("published %d %s to %s at %s%s%n", acked.get(), k.label, topic.name(), client.bootstrapServers(),
        bad.isEmpty() ? "" : "; skipped " + bad.size() + " bad line(s) (listed above)");
    out.flush();
    return 0;
  }

  private static String id(SpecificRecord r) {
    return r instanceof dev.oppu.schemas.Behavior b ? b.getEventId() : ((dev.oppu.schemas.Request) r).getRequestId();
  }

  private interface LineHandler {
    void accept(long lineNo, String line);
  }

  /** Streams the file line by line (1-based numbers); a byte sequence that is not UTF-8 is a clear error. */
  private void forEachLine(LineHandler h) throws IOException {
    var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    long no = 0;
    try (BufferedReader r = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file), decoder))) {
      String line;
      while (true) {
        try {
          line = r.readLine();
        } catch (CharacterCodingException e) {
          throw new IllegalArgumentException(file + ":" + (no + 1) + ": not UTF-8 text");
        }
        if (line == null) {
          break;
        }
        no++;
        if (no == 1 && line.startsWith("\uFEFF")) {
          line = line.substring(1); // a byte-order mark is not part of the JSON
        }
        h.accept(no, line);
      }
    }
  }
}
