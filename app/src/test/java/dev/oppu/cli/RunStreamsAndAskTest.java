package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code oppu run streams} and {@code oppu ask} in-process against the shared test broker, on a tiny random model. */
@ExtendWith(KafkaExtension.class)
class RunStreamsAndAskTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"),
      "hf-llama-mha");

  @TempDir
  Path dir;

  record Run(int code, String out, String err, Response response) {}

  private static CommandLine cli(Object command, StringWriter out, StringWriter err) {
    CommandLine cl = new CommandLine(command);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("error: " + ex.getMessage());
      return 2;
    });
    return cl;
  }

  private Run ask(Path cfg, SharedKafka kafka, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    AskCommand ask = new AskCommand();
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--bootstrap";
    all[args.length + 1] = kafka.bootstrapServers();
    all[args.length + 2] = "--kafka-config";
    all[args.length + 3] = cfg.toString();
    int code = cli(ask, out, err).execute(all);
    return new Run(code, out.toString(), err.toString(), ask.response());
  }

  @Test
  void askGetsAnAnswerNamingTheAdapterVersion(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("ask", 2);
    Path cfg = dir.resolve("client.properties");
    Properties p = new Properties();
    for (Topics.Topic<String, ?> t : topics.all()) {
      p.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    p.setProperty("commit.interval.ms", "100");
    try (var w = Files.newBufferedWriter(cfg)) {
      p.store(w, null);
    }
    Path modelDir = dir.resolve("model");
    String baseFp;
    byte[] weights;
    String adapterConfig;
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel model = LlamaModel.random(LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 5, m)) {
      model.save(modelDir);
      Files.copy(FIX.resolve("tokenizer.json"), modelDir.resolve("tokenizer.json"));
      baseFp = model.fingerprint();
      try (LoraAdapter a = LoraAdapter.create(model.config(), LoraConfig.oppuUser(), 3, m)) {
        for (String path : a.modulePaths()) {
          NDArray b = a.b(path);
          b.addi(m.randomNormal(0, 1f, b.getShape(), DataType.FLOAT32));
        }
        weights = a.weightsBytes();
        adapterConfig = new String(a.configJson(), StandardCharsets.UTF_8);
      }
    }

    RunStreamsCommand run = new RunStreamsCommand();
    StringWriter runOut = new StringWriter();
    StringWriter runErr = new StringWriter();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Future<Integer> running = pool.submit(() -> cli(run, runOut, runErr).execute("--model", modelDir.toString(),
        "--tasks", "LaMP_4", "--mode", "OPPU", "--batch-wait-ms", "20", "--max-new-tokens", "5",
        "--application-id", "ask-test-" + System.nanoTime(), "--state-dir", dir.resolve("state").toString(),
        "--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString()));
    try {
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!runOut.toString().contains("running") && System.nanoTime() < giveUp && !running.isDone()) {
        Thread.sleep(100);
      }
      assertTrue(runOut.toString().contains("oppu streams: running"), runOut + " / " + runErr);

      String input = "Generate a headline for the following article: storms hit the coast";
      Run cold = ask(cfg, kafka, "--user", "ann", "--task", "LaMP_4", "--input", input);
      assertEquals(0, cold.code(), cold.err());
      assertTrue(cold.out().contains("adapter: none (task model) | mode: OPPU (cold start)"), cold.out());

      AdapterVersion v = AdapterVersion.newBuilder()
          .setUserId("ann").setTask("LaMP_4").setVariant("plain").setVersion(7).setTriggerId("t").setCoveredSeq(0)
          .setItemsTrained(1).setLossBefore(1).setLossAfter(0.5).setTrainMillis(1).setPublishedAt(Instant.now())
          .setBaseFingerprint(baseFp).setTaskFingerprint("none").setAdapterConfig(adapterConfig)
          .setWeights(ByteBuffer.wrap(weights))
          .setWeightsSha256(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(weights)))
          .setLabelDistribution(Map.of()).build();
      try (KafkaProducer<String, AdapterVersion> prod = new KafkaProducer<>(kafka.clientConfig().producer(),
          Serdes.String().serializer(), topics.adapters.valueSerde().serializer())) {
        prod.send(new ProducerRecord<>(topics.adapters.name(), Topics.adapterKey("ann", "LaMP_4", "plain"), v)).get();
      }
      Run warm = null;
      while (System.nanoTime() < giveUp + TimeUnit.SECONDS.toNanos(60)) { // until the adapter is materialized
        warm = ask(cfg, kafka, "--user", "ann", "--task", "LaMP_4", "--input", input);
        if (warm.response() != null && warm.response().getAdapterVersion() != null) {
          break;
        }
      }
      assertNotNull(warm);
      assertEquals(0, warm.code(), warm.err());
      assertTrue(warm.out().contains("adapter: v7 | mode: OPPU | "), warm.out());

      Run other = ask(cfg, kafka, "--user", "bob", "--task", "LaMP_4", "--input", input);
      assertNull(other.response().getAdapterVersion(), "bob never gets ann's adapter");

      Run notServed = ask(cfg, kafka, "--user", "ann", "--task", "LaMP_5", "--input",
          "Generate a title for the following abstract of a paper: we study x");
      assertEquals(1, notServed.code());
      assertTrue(notServed.err().contains("no task model for LaMP_5"), notServed.err());

      Run bad = ask(cfg, kafka, "--user", "ann", "--task", "LaMP_4", "--input", "no marker");
      assertEquals(2, bad.code());
      assertTrue(bad.err().contains("lacks its marker"), bad.err());
    } finally {
      run.stop();
      assertEquals(0, running.get(60, TimeUnit.SECONDS), runErr.toString());
      pool.shutdownNow();
    }
  }
}
