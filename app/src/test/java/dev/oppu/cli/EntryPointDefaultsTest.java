package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.bench.ServeBench;
import dev.oppu.broker.ClientConfig;
import dev.oppu.serving.Mode;
import dev.oppu.serving.ServingConfig;
import dev.oppu.system.OppuSystem;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The defaults every entry point serves and trains with: label tasks answer with the most likely label of their list
 * (constrained decoding), and {@code run streams} trains the adapter variant its default mode serves. Nothing here
 * contacts a broker.
 */
class EntryPointDefaultsTest {

  private static OppuSystem runStreams(String... args) {
    RunStreamsCommand c = new RunStreamsCommand();
    new CommandLine(c).parseArgs(args);
    return c.system(c.kafka.clientConfig());
  }

  @Test
  void runStreamsConstrainsLabelTasksAndTrainsWhatItsDefaultModeServes() {
    OppuSystem s = runStreams("--no-create-topics", "--bootstrap", "localhost:1");
    assertTrue(s.serving().constrained(), "run streams: constrained decoding of label tasks by default");
    assertEquals(Mode.OPPU_RAG, s.serving().defaultMode());
    assertEquals(List.of("rag"), s.ingest().variants(), "the default mode OPPU+RAG reads rag adapters");

    OppuSystem pag = runStreams("--no-create-topics", "--bootstrap", "localhost:1", "--mode", "OPPU+PAG");
    assertEquals(List.of("pag"), pag.ingest().variants(), "--mode OPPU+PAG trains pag adapters");
    OppuSystem setting = runStreams("--no-create-topics", "--bootstrap", "localhost:1", "-X",
        "oppu.serving.mode=OPPU");
    assertEquals(List.of("plain"), setting.ingest().variants(), "the mode setting counts as the option does");
    OppuSystem listed = runStreams("--no-create-topics", "--bootstrap", "localhost:1", "-X",
        "oppu.ingest.variants=plain,rag,pag");
    assertEquals(List.of("plain", "rag", "pag"), listed.ingest().variants(), "an explicit list wins");

    assertFalse(runStreams("--no-create-topics", "--bootstrap", "localhost:1", "--no-constrained").serving()
        .constrained(), "free generation is an option");
  }

  @Test
  void benchServeDemoAndReplayConstrainLabelTasksByDefault() {
    CommandLine bench = new CommandLine(new ServeBench());
    bench.parseArgs();
    ServingOptions benchServing = (ServingOptions) bench.getMixins().get("serving");
    assertTrue(benchServing.apply(ServingConfig.from(new Properties())).constrained(), "bench serve");

    DemoCommand demo = new DemoCommand();
    new CommandLine(demo).parseArgs();
    assertFalse(demo.freeGeneration, "demo: constrained unless --free-generation");

    // replay without a cluster starts the system with its trigger settings only: serving keeps its defaults
    Properties replay = new Properties();
    replay.setProperty("oppu.ingest.variants", "plain,rag,pag");
    replay.setProperty("oppu.ingest.first-min-items", "1");
    OppuSystem s = OppuSystem.builder(ClientConfig.of("localhost:1")).settings(replay).build();
    assertTrue(s.serving().constrained(), "replay");
  }

  @Test
  void demoTasksAllIsTheSevenInLampsOrder() {
    DemoCommand c = new DemoCommand();
    new CommandLine(c).parseArgs("--tasks", "all");
    assertEquals(List.of(dev.oppu.lamp.Task.values()), dev.oppu.lamp.Task.list(c.tasks));
    assertEquals(7, dev.oppu.lamp.Task.list(c.tasks).size());
    DemoCommand d = new DemoCommand();
    new CommandLine(d).parseArgs();
    assertEquals(List.of(dev.oppu.lamp.Task.MOVIE_TAGGING, dev.oppu.lamp.Task.TWEET_PARAPHRASE),
        dev.oppu.lamp.Task.list(d.tasks), "the default demo's two tasks");
    assertEquals(java.time.Duration.ofSeconds(600), DemoCommand.adapterWait(d.adapterTimeout, 2));
    assertEquals(java.time.Duration.ofSeconds(2100), DemoCommand.adapterWait(c.adapterTimeout, 7),
        "seven tasks wait 300 s each");
    DemoCommand e = new DemoCommand();
    new CommandLine(e).parseArgs("--tasks", "all", "--adapter-timeout", "60");
    assertEquals(java.time.Duration.ofSeconds(60), DemoCommand.adapterWait(e.adapterTimeout, 7));
  }
}
