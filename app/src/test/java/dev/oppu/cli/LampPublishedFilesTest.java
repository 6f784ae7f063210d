package dev.oppu.cli;

import static dev.oppu.cli.SystemHarness.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.evaluation.demo.DemoResults;
import dev.oppu.evaluation.demo.DemoRunner;
import dev.oppu.evaluation.demo.DemoSystem;
import dev.oppu.evaluation.replay.FakeSystem;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.schemas.Topics;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * LaMP's released files, in their exact published shape (src/test/resources/lamp-published: LaMP_1's two-reference
 * inputs, LaMP_3's ratings as strings, the label lists in LaMP_2's movie and news inputs, LaMP's train/ and dev/
 * sub-folders, movie tagging under LaMP_2, a time-based split with user ids and dates), through the commands that
 * read data: adapt-task (a tiny random model), replay and eval --output-file (a test double for the services), demo's
 * runner, pretrain, and the errors on data that cannot be resolved.
 */
@ExtendWith(KafkaExtension.class)
class LampPublishedFilesTest {

  static final Path DATA = Path.of("src/test/resources/lamp-published");
  static final Path USER = DATA.resolve("user");
  static final Path TIME = DATA.resolve("time");
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  /** A command run in this JVM: its exit code, what it printed to System.out, and its error stream. */
  record Run(int code, String out, String err) {}

  static synchronized Run run(Object command, String... args) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      SystemHarness.Run r = SystemHarness.run(command, args);
      return new Run(r.code(), buf.toString(StandardCharsets.UTF_8) + r.out(), r.err());
    } finally {
      System.setOut(saved);
    }
  }

  /** JSON objects among the printed lines. */
  static List<JsonNode> jsonLines(String out) throws Exception {
    List<JsonNode> nodes = new ArrayList<>();
    for (String line : out.split("\n")) {
      if (line.startsWith("{")) {
        nodes.add(JSON.readTree(line));
      }
    }
    return nodes;
  }

  /** A tiny random model (the fixture's 512-token tokenizer), without task adapters. */
  private Path tinyModel() throws Exception {
    Path model = dir.resolve("model");
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel base = LlamaModel.random(LlamaConfig.of(512, 32, 64, 1, 2, 1, 512, 10000.0, true), 3, m)) {
      base.save(model);
    }
    Files.copy(SystemHarness.TOKENIZER, model.resolve("tokenizer.json"));
    return model;
  }

  @Test
  void adaptTaskTrainsOnTheUsersLampDoesNotEvaluateForEveryTask() throws Exception {
    Path model = tinyModel();
    String[] tiny = {"--model", model.toString(), "--epochs", "1", "--r", "2", "--no-mixed"};

    // User-based split, all seven tasks of one folder as LaMP's downloads name them: train_questions.json's users.
    Run user = run(new TaskAdaptCommand(), concat(tiny, "--data", USER.toString(), "--out",
        dir.resolve("user").toString()));
    assertEquals(0, user.code(), user.out() + user.err());
    Map<String, Integer> users = new HashMap<>();
    jsonLines(user.out()).forEach(n -> users.put(n.get("task").asText(), n.get("users").asInt()));
    Map<String, Integer> three = new HashMap<>();
    for (Task t : Task.values()) {
      three.put(t.id(), 3);
      assertTrue(Files.isRegularFile(dir.resolve("user").resolve(t.id()).resolve("adapter_model.safetensors")), t.id());
    }
    assertEquals(three, users);
    assertTrue(user.out().contains("LaMP_2M: LaMP's files in " + USER.resolve("LaMP_2")), user.out());

    // Time-based split (same users in train and dev): every user but the 2 most active. LaMP_2 holds news here.
    Run time = run(new TaskAdaptCommand(), concat(tiny, "--data", TIME.toString(), "--most-active", "2", "--out",
        dir.resolve("time").toString()));
    assertEquals(0, time.code(), time.out() + time.err());
    Map<String, Integer> timeUsers = new HashMap<>();
    jsonLines(time.out()).forEach(n -> timeUsers.put(n.get("task").asText(), n.get("users").asInt()));
    assertEquals(Map.of("LaMP_1", 3, "LaMP_2N", 3, "LaMP_3", 3), timeUsers);
    assertTrue(time.out().contains("time-based split"), time.out());

    // Explicit --task with a questions/outputs pair.
    Run explicit = run(new TaskAdaptCommand(), concat(tiny, "--task", "LaMP_3", "--questions",
        USER.resolve("LaMP_3/train_questions.json").toString(), "--outputs",
        USER.resolve("LaMP_3/train_outputs.json").toString(), "--out", dir.resolve("explicit").toString()));
    assertEquals(0, explicit.code(), explicit.out() + explicit.err());
    assertEquals(3, jsonLines(explicit.out()).get(0).get("users").asInt());
  }

  @Test
  void unresolvableDataIsAClearError() throws Exception {
    // movie tagging both in LaMP's LaMP_2 and in a LaMP_2M folder: which one?
    Path root = dir.resolve("two");
    copy(USER.resolve("LaMP_2"), root.resolve("LaMP_2"));
    copy(USER.resolve("LaMP_2"), root.resolve("LaMP_2M"));
    Run two = run(new ReplayCommand(), "--task", "LaMP_2M", "--data", root.toString());
    assertEquals(2, two.code());
    assertTrue(two.err().contains("data in more than one place"), two.err());

    Run none = run(new TaskAdaptCommand(), "--task", "LaMP_4", "--data", TIME.toString());
    assertEquals(2, none.code());
    assertTrue(none.err().contains("LaMP_4: no data under"), none.err());

    Run all = run(new TaskAdaptCommand(), "--questions", USER.resolve("LaMP_3/train_questions.json").toString());
    assertEquals(2, all.code());
    assertTrue(all.err().contains("name it with --task"), all.err());

    Run noData = run(new ReplayCommand(), "--task", "LaMP_3");
    assertEquals(2, noData.code());
    assertTrue(noData.err().contains("Give --data DIR, or --questions FILE"), noData.err());

    // The same data options on every command that reads data.
    for (Object c : List.of(new DemoCommand(), new ReplayCommand(), new TaskAdaptCommand(), new PretrainCommand())) {
      Run help = run(c, "--help");
      assertEquals(0, help.code(), help.err());
      for (String o : List.of("--data", "--questions", "--outputs", "--most-active")) {
        assertTrue(help.out().contains(o), c.getClass().getSimpleName() + " lacks " + o + ": " + help.out());
      }
    }

    Run wrongTask = run(new ReplayCommand(), "--task", "LaMP_4", "--questions",
        USER.resolve("LaMP_4/dev_questions.json").toString(), "--outputs",
        USER.resolve("LaMP_5/dev_outputs.json").toString());
    assertEquals(2, wrongTask.code());
    assertTrue(wrongTask.err().contains("outputs are for task LaMP_5, not LaMP_4"), wrongTask.err());
  }

  @Test
  void replayAndEvalScoreLampFilesOfEveryTask(SharedKafka kafka) throws Exception {
    // The test double answers OPPU's requests with the gold and the others with a fixed wrong answer.
    Map<String, String> golds = new HashMap<>();
    for (Path f : outputsFiles()) {
      golds.putAll(LampFiles.readGolds(f).outputs());
    }
    List<String[]> runs = new ArrayList<>();
    for (Task t : Task.values()) {
      runs.add(new String[] {t.id(), "--data", USER.toString()});
    }
    runs.add(new String[] {"LaMP_2N", "--data", TIME.toString(), "--most-active", "2"});
    runs.add(new String[] {"LaMP_1", "--users", USER.resolve("LaMP_1/dev/dev_questions.json").toString(), // old name
        "--outputs", USER.resolve("LaMP_1/dev/dev_outputs.json").toString()});
    int n = 0;
    for (String[] r : runs) {
      Task t = Task.of(r[0]);
      String name = "lamp-files-" + n++;
      Path work = Files.createDirectories(dir.resolve(name));
      String[] cluster = SystemHarness.cluster(kafka, name, work);
      Topics topics = Topics.from(clientProps(cluster));
      try (FakeSystem fake = new FakeSystem(dev.oppu.broker.ClientConfig.of(clientProps(cluster)), topics, 1, Set.of(),
          q -> {
            String id = q.getRequestId().substring(0, q.getRequestId().lastIndexOf('/'));
            return q.getMode().equals(Modes.OPPU) ? golds.get(id) : wrong(t);
          })) {
        Path out = work.resolve("out");
        String[] args = concat(concat(cluster, "--task", r[0], "--modes", "OPPU,non-personalized", "--out",
            out.toString(), "--adapter-timeout", "60", "--answer-timeout", "60", "--quiet", "1", "--no-progress"),
            java.util.Arrays.copyOfRange(r, 1, r.length));
        Run replay = run(new ReplayCommand(), args);
        assertEquals(0, replay.code(), replay.out() + replay.err());
        assertNull(fake.failure);
        Path preds = out.resolve("predictions/OPPU/" + t.id() + "_outputs.json");
        int expected = r[2].equals(TIME.toString()) ? 2 : 3; // time-based: the 2 most active users' dev questions
        assertEquals(expected, LampFiles.readGolds(preds).outputs().size(), String.join(" ", r));
        // OPPU's eval: scores to --output-file (and stdout). Golds: LaMP's own dev_outputs.json; in the time-based
        // split only the 2 most active users are evaluated, so the golds replay wrote beside the predictions.
        Path goldsFile = expected != 3 ? out.resolve("golds/" + t.id() + "_outputs.json")
            : r[1].equals("--data") ? devOutputs(t) : Path.of(r[4]);
        assertEquals(expected, LampFiles.readGolds(out.resolve("golds/" + t.id() + "_outputs.json")).outputs().size());
        if (expected != 3) {
          assertTrue(replay.out().contains("time-based split"), replay.out());
        }
        Path scores = work.resolve("scores/" + t.id() + ".json");
        Run eval = run(new EvalCommand(), "--task", t.id(), "--golds", goldsFile.toString(), "--preds",
            preds.toString(), "--output-file", scores.toString());
        assertEquals(0, eval.code(), eval.err());
        JsonNode m = JSON.readTree(Files.readString(scores));
        assertEquals(JSON.readTree(eval.out().strip()), m);
        assertEquals(expected, m.get("n").asInt());
        switch (t.kind()) {
          case CLASSIFICATION -> assertEquals(1.0, m.get("accuracy").asDouble(), 1e-12, t.id());
          case REGRESSION -> assertEquals(0.0, m.get("mae").asDouble(), 1e-12, t.id());
          case GENERATION -> assertEquals(1.0, m.get("rouge1").asDouble(), 1e-12, t.id());
        }
        JsonNode results = JSON.readTree(Files.readString(out.resolve("results.json")));
        assertTrue(results.has(Modes.OPPU) && results.has(Modes.NON_PERSONALIZED), results.toString());
      }
    }
  }

  @Test
  void demoRunsOnGivenLampFilesWithoutCeilingsOrShiftCurve(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("demo-lamp-files", 2);
    Properties names = new Properties();
    topics.all().forEach(t -> names.setProperty(Topics.PREFIX + t.key(), t.name()));
    names.putAll(kafka.clientConfig().raw());
    var client = dev.oppu.broker.ClientConfig.of(names);
    Map<String, String> golds = new HashMap<>();
    for (Path f : outputsFiles()) {
      LampFiles.readGolds(f).outputs().forEach((id, g) -> {
        golds.put("2M-" + id, g);
        golds.put("3-" + id, g);
      });
    }
    DataOptions data = new DataOptions();
    data.data = USER;
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Map<Task, DemoRunner.GivenData> given = DemoCommand.given(data, List.of(Task.MOVIE_TAGGING, Task.PRODUCT_RATING),
        2, new PrintStream(log, true, StandardCharsets.UTF_8));
    assertEquals(2, given.get(Task.MOVIE_TAGGING).train().size(), "--train-users caps the non-evaluated users");
    Map<Task, List<String>> trainUsers = new HashMap<>();
    DemoSystem.Launcher launcher = (c, t, settings, train, work, progress) -> {
      train.forEach((task, us) -> trainUsers.put(task, us.stream().map(u -> u.userId()).toList()));
      FakeSystem fake = new FakeSystem(c, t, 1, Set.of(), r -> {
        String q = r.getRequestId().substring(0, r.getRequestId().lastIndexOf('/'));
        return Modes.variant(r.getMode()).isPresent() ? golds.get(q) : "1";
      });
      return new DemoSystem() {
        public String modelDescription() {
          return "fake services (test double)";
        }

        public List<String> setup() {
          return List.of("test double");
        }

        public void close() throws Exception {
          fake.close();
        }
      };
    };
    Path out = dir.resolve("demo");
    var opts = new DemoRunner.Options(out, client, List.of(Task.MOVIE_TAGGING, Task.PRODUCT_RATING), 2, 2, 1, 5, 2,
        List.of(0, 5), 20, 7, List.of(Modes.NON_PERSONALIZED, Modes.OPPU), 2, true, Duration.ofSeconds(60),
        Duration.ofSeconds(60), Duration.ofSeconds(2), Progress.none(),
        new PrintStream(java.io.OutputStream.nullOutputStream()), given);
    DemoResults r = new DemoRunner(opts, launcher).run();
    dev.oppu.evaluation.demo.DemoReport.write(r, out);

    // The first 2 dev users of each task are evaluated; the task adapters would be trained on 2 train users.
    assertEquals(Map.of(Task.MOVIE_TAGGING, List.of("2000", "2001"), Task.PRODUCT_RATING, List.of("3000", "3001")),
        trainUsers);
    assertEquals(1.0, r.replay().metrics().get(Modes.OPPU).get("LaMP_2M").get("accuracy"), 1e-12);
    assertEquals(0.0, r.replay().metrics().get(Modes.OPPU).get("LaMP_3").get("mae"), 1e-12);
    assertEquals(2, r.replay().stats().get(Modes.OPPU).get("LaMP_3").answered());
    assertTrue(r.ceilings().isEmpty());
    assertNull(r.shift());
    String report = Files.readString(out.resolve("report.md"));
    assertTrue(report.contains("on the given data (LaMP_2M, LaMP_3"), report);
    assertTrue(report.contains("LaMP_2M: LaMP's files in " + USER.resolve("LaMP_2")), report);
    assertFalse(Files.exists(out.resolve("data")), "the user's data is not copied");
  }

  @Test
  void pretrainBuildsTheDefaultSizeBaseFromADataSetsNonEvaluatedUsers() throws Exception {
    Path out = dir.resolve("base");
    Run r = run(new PretrainCommand(), "--data", USER.toString(), "--steps", "1", "--quiet", "--out", out.toString());
    assertEquals(0, r.code(), r.out() + r.err());
    // 7 tasks x 3 train users with 3, 4, 5 items, two documents per item
    assertTrue(r.out().contains("pretraining on 168 documents (21 non-evaluated users of [LaMP_1, LaMP_2N, LaMP_2M,"
        + " LaMP_3, LaMP_4, LaMP_5, LaMP_7])"), r.out());
    JsonNode config = JSON.readTree(Files.readString(out.resolve("config.json")));
    assertEquals(LlamaConfig.defaultSmall().hiddenSize(), config.get("hidden_size").asInt());
    assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
  }

  private static String wrong(Task t) {
    return switch (t.kind()) {
      case CLASSIFICATION -> t.labels().get(t.labels().size() - 1);
      case REGRESSION -> "1";
      case GENERATION -> "nothing";
    };
  }

  private static Path devOutputs(Task t) throws Exception {
    try (Stream<Path> s = Files.walk(USER)) {
      return s.filter(p -> p.getFileName().toString().equals("dev_outputs.json"))
          .filter(p -> {
            Path folder = p.getParent().getFileName().toString().equals("dev") ? p.getParent().getParent() : p.getParent();
            String name = folder.getFileName().toString();
            return name.equals(t.id()) || (t == Task.MOVIE_TAGGING && name.equals("LaMP_2"));
          }).findFirst().orElseThrow();
    }
  }

  private static List<Path> outputsFiles() throws Exception {
    try (Stream<Path> s = Files.walk(DATA)) {
      return s.filter(p -> p.getFileName().toString().endsWith("_outputs.json")).toList();
    }
  }

  private static Properties clientProps(String[] cluster) throws Exception {
    Properties p = new Properties();
    try (var r = Files.newBufferedReader(Path.of(cluster[3]))) {
      p.load(r);
    }
    p.setProperty("bootstrap.servers", cluster[1]);
    return p;
  }

  private static void copy(Path from, Path to) throws Exception {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
