package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * README's path with the commands' defaults (issue 13): {@code run streams --model M}, {@code run trainer --model M},
 * {@code publish} of a user's behaviors, then {@code ask} with no mode. The model has task adapters in its own
 * {@code task-adapters/} folder, as {@code models/default} has. The answer must come from the user's adapter: serving
 * and the trainer agree on the task adapters, and the variant trained by default is the one the default mode reads.
 *
 * <p>Besides --bootstrap and --model, the commands get only what isolates this test on the shared broker: topic names
 * and the state folder in --kafka-config, and a fresh application id.
 */
@ExtendWith(KafkaExtension.class)
class DefaultPathTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"), "hf-llama-mha");
  private static final String[] TAGS = {"comedy", "sci-fi"};

  @TempDir
  Path dir;

  record Run(int code, String out, String err) {}

  private static CommandLine cli(Object command, StringWriter out, StringWriter err) {
    CommandLine cl = new CommandLine(command);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      ex.printStackTrace(cmd.getErr());
      return 2;
    });
    return cl;
  }

  private static Run run(Object command, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = cli(command, out, err).execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void readmeCommandsWithDefaultsAnswerWithTheUsersAdapter(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("default-path", 2);
    Properties p = new Properties();
    for (Topics.Topic<String, ?> t : topics.all()) {
      p.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    p.setProperty("state.dir", dir.resolve("state").toString());
    Path cfg = dir.resolve("client.properties");
    try (var w = Files.newBufferedWriter(cfg)) {
      p.store(w, null);
    }
    // A tiny random model laid out as models/default: checkpoint, tokenizer, task-adapters/LaMP_2M.
    Path model = dir.resolve("model");
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel base = LlamaModel.random(LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 5, m)) {
      base.save(model);
      Files.copy(FIX.resolve("tokenizer.json"), model.resolve("tokenizer.json"));
      try (LoraAdapter task = LoraAdapter.create(base.config(), LoraConfig.oppuUser(), 11, m)) {
        for (String path : task.modulePaths()) {
          NDArray b = task.b(path);
          b.addi(m.randomNormal(0, 0.02f, b.getShape(), DataType.FLOAT32));
        }
        task.savePeft(model.resolve("task-adapters").resolve("LaMP_2M"));
      }
    }
    String bootstrap = kafka.bootstrapServers();
    String[] cluster = {"--bootstrap", bootstrap, "--kafka-config", cfg.toString()};

    RunStreamsCommand streams = new RunStreamsCommand();
    RunTrainer trainer = new RunTrainer();
    StringWriter streamsOut = new StringWriter();
    StringWriter streamsErr = new StringWriter();
    StringWriter trainerOut = new StringWriter();
    StringWriter trainerErr = new StringWriter();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    Future<Integer> streamsRun = pool.submit(() -> cli(streams, streamsOut, streamsErr).execute(
        concat(cluster, "--model", model.toString(), "--application-id", "default-path-" + System.nanoTime())));
    Future<Integer> trainerRun = pool.submit((Callable<Integer>) () -> cli(trainer, trainerOut, trainerErr)
        .execute(concat(cluster, "--model", model.toString())));
    try {
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!streamsOut.toString().contains("oppu streams: running") && System.nanoTime() < giveUp
          && !streamsRun.isDone()) {
        Thread.sleep(100);
      }
      assertTrue(streamsOut.toString().contains("oppu streams: running"), streamsOut + " / " + streamsErr);

      // 14 behaviors of one user: the first training is due at 10 items (oppu.ingest.first-min-items).
      List<String> lines = new ArrayList<>();
      for (int i = 0; i < 14; i++) {
        String tag = TAGS[i % 3 == 0 ? 1 : 0];
        lines.add("{\"userId\":\"ann\",\"task\":\"LaMP_2M\",\"eventTime\":\"2024-01-01T00:00:" + (10 + i) + "Z\","
            + "\"fields\":{\"description\":\"a film about friends number " + i + " and their " + tag
            + " story\",\"tag\":\"" + tag + "\"}}");
      }
      Path behaviors = dir.resolve("behaviors.jsonl");
      Files.write(behaviors, lines);
      Run published = run(new PublishCommand(), concat(cluster, "--file", behaviors.toString()));
      assertEquals(0, published.code(), published.err());

      String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
      Response answer = null;
      String printed = "";
      long adapterDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
      while (System.nanoTime() < adapterDeadline) {
        AskCommand ask = new AskCommand();
        Run r = run(ask, concat(cluster, "--user", "ann", "--task", "LaMP_2M", "--input", input));
        assertEquals(0, r.code(), r.err());
        answer = ask.response();
        printed = r.out();
        if (answer != null && answer.getAdapterVersion() != null) {
          break;
        }
        Thread.sleep(1000);
      }
      assertNotNull(answer);
      assertNotNull(answer.getAdapterVersion(), "still answered cold after 4 minutes: " + printed + "\ntrainer: "
          + trainerOut + trainerErr + "\nstreams: " + streamsOut + streamsErr);
      assertTrue(printed.contains("adapter: v" + answer.getAdapterVersion() + " | mode: OPPU+RAG | "), printed);
      assertTrue(!printed.contains("cold start"), printed);
    } finally {
      streams.stop();
      trainer.stop();
      assertEquals(0, streamsRun.get(60, TimeUnit.SECONDS), streamsErr.toString());
      assertEquals(0, trainerRun.get(60, TimeUnit.SECONDS), trainerErr.toString());
      pool.shutdownNow();
    }
    assertTrue(trainerOut.toString().contains("\"published\":"), trainerOut.toString());
  }

  private static String[] concat(String[] a, String... b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
