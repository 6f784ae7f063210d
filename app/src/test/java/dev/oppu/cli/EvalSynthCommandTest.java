package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs {@code oppu eval} and {@code oppu synth} as the launcher does: a separate JVM, exit code, stdout, stderr. */
class EvalSynthCommandTest {

  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run oppu(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Run(p.waitFor(), out, err);
  }

  @Test
  void evalPrintsOneJsonObjectAndFailsClearly() throws Exception {
    Path g = dir.resolve("g.json");
    Path pr = dir.resolve("p.json");
    Files.writeString(g, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"a\", \"output\": \"5\"}, {\"id\": \"b\","
        + " \"output\": \"3\"}]}");
    Files.writeString(pr, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"b\", \"output\": \"three\"}, {\"id\": \"a\","
        + " \"output\": \" 4\\n\"}]}");
    Run ok = oppu("eval", "--task", "LaMP_3", "--golds", g.toString(), "--preds", pr.toString());
    assertEquals(0, ok.code(), ok.err());
    JsonNode m = new ObjectMapper().readTree(ok.out());
    assertEquals(1.5, m.get("mae").asDouble(), 1e-12); // |4-5| = 1, "three" vs 3 -> 5: 2
    assertEquals(Math.sqrt(2.5), m.get("rmse").asDouble(), 1e-12);

    Files.writeString(pr, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"a\", \"output\": \"4\"}]}");
    Run missing = oppu("eval", "--task", "LaMP_3", "--golds", g.toString(), "--preds", pr.toString());
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("1 missing from the predictions [b]"), missing.err());
    assertEquals(1, missing.err().strip().lines().count(), missing.err());

    Run unknown = oppu("eval", "--task", "LaMP_8", "--golds", g.toString(), "--preds", pr.toString());
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().contains("unknown task 'LaMP_8'"), unknown.err());

    Files.writeString(pr, "{\"task\": \"LaMP_3\", \"golds\": [{\"id\": \"a\"");
    Run malformed = oppu("eval", "--task", "LaMP_3", "--golds", g.toString(), "--preds", pr.toString());
    assertEquals(2, malformed.code());
    assertTrue(malformed.err().contains("malformed JSON"), malformed.err());
    assertEquals(1, malformed.err().strip().lines().count(), malformed.err());
  }

  @Test
  void synthWritesDataThatEvalScores() throws Exception {
    Run s = oppu("synth", "--task", "LaMP_2M", "--users", "5", "--train-users", "2", "--out", dir.toString(),
        "--seed", "3", "--shift");
    assertEquals(0, s.code(), s.err());
    Path d = dir.resolve("movie_tagging");
    for (String f : List.of("users.json", "users_labels.json", "train_users.json", "truth.json", "crowd_preds.json",
        "personal_preds.json", "pre_shift_preds.json")) {
      assertTrue(new File(d.toFile(), f).isFile(), f);
    }
    JsonNode summary = new ObjectMapper().readTree(s.out());
    Run e = oppu("eval", "--task", "movie_tagging", "--golds", d.resolve("users_labels.json").toString(), "--preds",
        d.resolve("crowd_preds.json").toString());
    assertEquals(0, e.code(), e.err());
    JsonNode m = new ObjectMapper().readTree(e.out());
    assertEquals(summary.get("LaMP_2M").get("ceilings").get("crowd").get("accuracy").asDouble(),
        m.get("accuracy").asDouble(), 1e-12);

    Run help = oppu("synth", "--help");
    assertTrue(help.out().contains("--train-users") && help.out().contains("Defaults:"), help.out());
  }
}
