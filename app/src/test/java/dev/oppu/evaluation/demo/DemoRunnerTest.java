package dev.oppu.evaluation.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.evaluation.replay.FakeSystem;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ReplayOutput;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.schemas.Topics;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's orchestration through a real broker, with {@link FakeSystem} (a test double, no model) as the
 * services: "OPPU" modes answer the synthetic ground truth's personal answer, the others the crowd's. Checks the
 * wiring: every mode measured and reported, ceilings, activity levels, the shift curve, the output folder.
 */
@ExtendWith(KafkaExtension.class)
class DemoRunnerTest {

  @Test
  void runsEveryPhaseAndWritesTheReport(SharedKafka kafka, @TempDir Path out) throws Exception {
    Topics topics = kafka.freshTopics("demo", 2);
    Properties names = new Properties();
    topics.all().forEach(t -> names.setProperty(Topics.PREFIX + t.key(), t.name()));
    names.putAll(kafka.clientConfig().raw());
    var client = dev.oppu.broker.ClientConfig.of(names);

    // The fake needs the ground truth to answer; it is read from the same deterministic synth the demo makes.
    Map<String, String> personal = new ConcurrentHashMap<>();
    Map<String, String> crowd = new ConcurrentHashMap<>();
    for (Task task : List.of(Task.MOVIE_TAGGING, Task.SCHOLARLY_TITLE)) {
      String prefix = task.id().substring(task.id().indexOf('_') + 1) + "-";
      var p = Synth.Params.defaults().withUsers(6).withTrainUsers(0).withQueries(2).withSeed(7);
      var d = DemoData.fromSynth(Synth.generate(task, p), prefix, null, null);
      personal.putAll(d.trueAnswer());
      crowd.putAll(d.crowdAnswer());
      if (task == Task.MOVIE_TAGGING) {
        var s = DemoData.fromSynth(null, null, Synth.generate(task, p.withUsers(2).withShift(true).withSeed(8)),
            "shift-" + prefix);
        personal.putAll(s.trueAnswer());
        crowd.putAll(s.crowdAnswer());
      }
    }
    DemoSystem.Launcher launcher = (c, t, settings, trainUsers, work, progress) -> {
      assertEquals("plain,rag,pag", settings.getProperty("oppu.ingest.variants"));
      FakeSystem fake = new FakeSystem(c, t, 1, Set.of(), r -> {
        String q = r.getRequestId().substring(0, r.getRequestId().lastIndexOf('/'));
        q = q.replace(ShiftExperiment.TWIN_SUFFIX, "").replaceAll("@\\d+$", "");
        return Modes.variant(r.getMode()).isPresent() ? personal.get(q) : crowd.get(q);
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
    var opts = new DemoRunner.Options(out, client, List.of(Task.MOVIE_TAGGING, Task.SCHOLARLY_TITLE), 6, 0, 2, 2, 2,
        List.of(0, 5, 10), 20, 7, Modes.ALL, 2, true, Duration.ofSeconds(60), Duration.ofSeconds(60), Duration.ofSeconds(5),
        Progress.none(), new PrintStream(java.io.OutputStream.nullOutputStream()));
    DemoResults r = new DemoRunner(opts, launcher).run();
    DemoReport.write(r, out);

    assertEquals(Modes.ALL, List.copyOf(r.replay().metrics().keySet()));
    assertEquals(r.ceilings().get(Analysis.CEILING_TRUE).get("LaMP_2M"), r.replay().metrics().get(Modes.OPPU)
        .get("LaMP_2M"), "OPPU answered the true preference, so it scores exactly the ceiling");
    assertEquals(r.ceilings().get(Analysis.CEILING_CROWD).get("LaMP_5"),
        r.replay().metrics().get(Modes.NON_PERSONALIZED).get("LaMP_5"));
    assertEquals(Set.of("few", "medium", "many"), r.byActivity().get(Modes.OPPU).get("LaMP_2M").keySet());
    assertNotNull(r.shift());
    assertEquals(List.of(0, 5, 10), r.shift().points().stream().map(DemoResults.Point::events).toList());
    assertTrue(r.phaseSeconds().containsKey("total"));

    JsonNode results = ReplayOutput.JSON.readTree(Files.readString(out.resolve("results.json")));
    assertEquals(Set.copyOf(Modes.ALL), Set.copyOf(iterable(results)));
    assertTrue(Files.exists(out.resolve("data/movie_tagging/users.json")));
    assertTrue(Files.exists(out.resolve("predictions/OPPU+PAG/LaMP_5_outputs.json")));
    assertTrue(Files.readString(out.resolve("report.md")).contains("fake services (test double)"));
  }

  private static List<String> iterable(JsonNode n) {
    List<String> out = new java.util.ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
