package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.ServingConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;

/**
 * The system as README runs it, in-process: the real commands ({@code run streams}, {@code run trainer},
 * {@code publish}, {@code ask}, {@code user export}) on the shared test broker. Shared by the tests of the whole path
 * ({@link DefaultPathTest}, {@link FamilyPathTest}).
 *
 * <p>Besides --bootstrap, the commands get only what isolates a test on the shared broker: topic names, the state
 * folder and the adapter store in --kafka-config (see {@link #cluster}), and a fresh application id.
 */
final class SystemHarness {
  static final Path FIXTURES = Path.of(System.getProperty("oppu.fixtures", "../fixtures"));
  /** A byte-level BPE tokenizer of 512 tokens (fixtures/hf-llama-mha): a test model needs vocab 512. */
  static final Path TOKENIZER = FIXTURES.resolve("hf-llama-mha").resolve("tokenizer.json");
  private static final String[] TAGS = {"comedy", "sci-fi"};

  private SystemHarness() {}

  record Run(int code, String out, String err) {}

  static CommandLine cli(Object command, StringWriter out, StringWriter err) {
    CommandLine cl = new CommandLine(command);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      ex.printStackTrace(cmd.getErr());
      return 2;
    });
    return cl;
  }

  static Run run(Object command, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = cli(command, out, err).execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  static String[] concat(String[] a, String... b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  /**
   * Fresh topics named after {@code name}, the state folder and the adapter store under {@code dir}, written to
   * {@code dir/client.properties}; returns {@code --bootstrap B --kafka-config FILE}, what every command gets.
   */
  static String[] cluster(SharedKafka kafka, String name, Path dir) throws IOException {
    Topics topics = kafka.freshTopics(name, 2);
    Properties p = new Properties();
    for (Topics.Topic<String, ?> t : topics.all()) {
      p.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    p.setProperty("state.dir", dir.resolve("state").toString());
    p.setProperty(ServingConfig.ADAPTER_STORE, dir.resolve("adapter-store").toString());
    Path cfg = dir.resolve("client.properties");
    try (var w = Files.newBufferedWriter(cfg)) {
      p.store(w, null);
    }
    return new String[] {"--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString()};
  }

  /**
   * A random model of {@code config} laid out as models/default: checkpoint, the fixture tokenizer, and a LaMP_2M
   * task adapter (OPPU's per-user recipe, nonzero B) in task-adapters/. Biases and q/k norm weights, which random
   * initialization sets to 0 and 1, get noise too, so the families' extra weights matter to every answer.
   */
  static void writeModel(Path model, LlamaConfig config, long seed) throws IOException {
    try (NDManager m = NDManager.newBaseManager(); LlamaModel base = LlamaModel.random(config, seed, m)) {
      base.weights().forEach((name, w) -> {
        if (name.endsWith(".bias") || name.endsWith("q_norm.weight") || name.endsWith("k_norm.weight")) {
          w.addi(m.randomNormal(0, 0.1f, w.getShape(), DataType.FLOAT32));
        }
      });
      base.save(model);
      Files.copy(TOKENIZER, model.resolve("tokenizer.json"));
      try (LoraAdapter task = LoraAdapter.create(base.config(), LoraConfig.oppuUser(), seed + 6, m)) {
        for (String path : task.modulePaths()) {
          NDArray b = task.b(path);
          b.addi(m.randomNormal(0, 0.02f, b.getShape(), DataType.FLOAT32));
        }
        task.savePeft(model.resolve("task-adapters").resolve(Task.MOVIE_TAGGING.id()));
      }
    }
  }

  /**
   * {@code n} LaMP_2M behaviors of {@code user} as JSON lines in {@code file}, for {@code publish}: with n >= 10 the
   * first training is due (oppu.ingest.first-min-items).
   */
  static Path movieBehaviors(Path file, String user, int n) throws IOException {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String tag = TAGS[i % 3 == 0 ? 1 : 0];
      lines.add("{\"userId\":\"" + user + "\",\"task\":\"LaMP_2M\",\"eventTime\":\"2024-01-01T00:00:" + (10 + i)
          + "Z\",\"fields\":{\"description\":\"a film about friends number " + i + " and their " + tag
          + " story\",\"tag\":\"" + tag + "\"}}");
    }
    Files.write(file, lines);
    return file;
  }

  /** An answer of {@code ask}: the response and what the command printed. */
  record Answer(Response response, String printed) {}

  /** {@code run streams} and {@code run trainer} running in-process, each on its own thread, until closed. */
  static final class Services implements AutoCloseable {
    final String applicationId;
    private final String[] cluster;
    private final RunStreamsCommand streams = new RunStreamsCommand();
    private final RunTrainer trainer = new RunTrainer();
    private final StringWriter streamsOut = new StringWriter();
    private final StringWriter streamsErr = new StringWriter();
    private final StringWriter trainerOut = new StringWriter();
    private final StringWriter trainerErr = new StringWriter();
    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final Future<Integer> streamsRun;
    private final Future<Integer> trainerRun;
    private boolean closed;

    /**
     * Starts both with {@code --model model} and the cluster arguments, plus {@code trainerArgs} for the trainer, and
     * waits until the streams application runs.
     */
    Services(String[] cluster, String name, Path model, String... trainerArgs) throws InterruptedException {
      this(cluster, cluster, cluster, name + "-" + System.nanoTime(), model, new String[0], trainerArgs);
    }

    /**
     * Each part with its own cluster arguments (e.g. its own login): {@code streamsCluster} for {@code run streams}
     * (plus {@code streamsArgs}), {@code trainerCluster} for {@code run trainer} (plus {@code trainerArgs}),
     * {@code askCluster} for {@link #askUntilAdapter}.
     */
    Services(String[] streamsCluster, String[] trainerCluster, String[] askCluster, String applicationId, Path model,
        String[] streamsArgs, String... trainerArgs) throws InterruptedException {
      this.cluster = askCluster;
      this.applicationId = applicationId;
      streamsRun = pool.submit(() -> cli(streams, streamsOut, streamsErr).execute(concat(
          concat(streamsCluster, "--model", model.toString(), "--application-id", applicationId), streamsArgs)));
      trainerRun = pool.submit((Callable<Integer>) () -> cli(trainer, trainerOut, trainerErr)
          .execute(concat(concat(trainerCluster, "--model", model.toString()), trainerArgs)));
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!streamsOut.toString().contains("oppu streams: running") && System.nanoTime() < giveUp
          && !streamsRun.isDone() && !trainerRun.isDone()) {
        Thread.sleep(100);
      }
      assertTrue(streamsOut.toString().contains("oppu streams: running"), logs());
    }

    /** Asks (no mode: the default one) every second until the answer names an adapter version, at most 4 min. */
    Answer askUntilAdapter(String user, String input) throws InterruptedException {
      Answer last = null;
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
      while (System.nanoTime() < deadline && !trainerRun.isDone()) {
        AskCommand ask = new AskCommand();
        Run r = run(ask, concat(cluster, "--user", user, "--task", "LaMP_2M", "--input", input));
        assertEquals(0, r.code(), r.err());
        last = new Answer(ask.response(), r.out());
        if (last.response() != null && last.response().getAdapterVersion() != null) {
          return last;
        }
        Thread.sleep(1000);
      }
      assertNotNull(last, logs());
      assertNotNull(last.response(), last.printed() + logs());
      assertNotNull(last.response().getAdapterVersion(), "still answered cold: " + last.printed() + logs());
      return last;
    }

    String trainerOut() {
      return trainerOut.toString();
    }

    String logs() {
      return "\ntrainer: " + trainerOut + trainerErr + "\nstreams: " + streamsOut + streamsErr;
    }

    /** Stops both as Ctrl-C would; each must exit with 0. */
    @Override
    public void close() throws Exception {
      if (closed) {
        return;
      }
      closed = true;
      try {
        streams.stop();
        trainer.stop();
        assertEquals(0, streamsRun.get(60, TimeUnit.SECONDS), logs());
        assertEquals(0, trainerRun.get(60, TimeUnit.SECONDS), logs());
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
