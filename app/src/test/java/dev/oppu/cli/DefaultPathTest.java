package dev.oppu.cli;

import static dev.oppu.cli.SystemHarness.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's path with the commands' defaults (issue 13): {@code run streams --model M}, {@code run trainer --model M},
 * {@code publish} of a user's behaviors, then {@code ask} with no mode. The model has task adapters in its own
 * {@code task-adapters/} folder, as {@code models/default} has. The answer must come from the user's adapter: serving
 * and the trainer agree on the task adapters, and the variant trained by default is the one the default mode reads.
 *
 * <p>Besides --bootstrap and --model, the commands get only what isolates this test on the shared broker
 * ({@link SystemHarness#cluster}) and a fresh application id.
 */
@ExtendWith(KafkaExtension.class)
class DefaultPathTest {

  @TempDir
  Path dir;

  @Test
  void readmeCommandsWithDefaultsAnswerWithTheUsersAdapter(SharedKafka kafka) throws Exception {
    String[] cluster = SystemHarness.cluster(kafka, "default-path", dir);
    // A tiny random model laid out as models/default: checkpoint, tokenizer, task-adapters/LaMP_2M.
    Path model = dir.resolve("model");
    SystemHarness.writeModel(model, LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 5);

    String trainerOut;
    try (SystemHarness.Services services = new SystemHarness.Services(cluster, "default-path", model)) {
      // 14 behaviors of one user: the first training is due at 10 items (oppu.ingest.first-min-items).
      Path behaviors = SystemHarness.movieBehaviors(dir.resolve("behaviors.jsonl"), "ann", 14);
      SystemHarness.Run published =
          SystemHarness.run(new PublishCommand(), concat(cluster, "--file", behaviors.toString()));
      assertEquals(0, published.code(), published.err());

      String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
      SystemHarness.Answer answer = services.askUntilAdapter("ann", input);
      String printed = answer.printed();
      assertTrue(printed.contains("adapter: v" + answer.response().getAdapterVersion() + " | mode: OPPU+RAG | "),
          printed);
      assertTrue(!printed.contains("cold start"), printed);
      services.close();
      trainerOut = services.trainerOut();
    }
    assertTrue(trainerOut.contains("\"published\":"), trainerOut);
  }
}
