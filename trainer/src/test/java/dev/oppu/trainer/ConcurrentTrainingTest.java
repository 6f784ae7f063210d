package dev.oppu.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import dev.oppu.model.Generator;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression test for the intermittent non-finite per-user updates: trainings must come out bit-identical to the same
 * trainings run alone while another thread generates with the same base model and the JVM collects garbage often.
 * Before the fix (see {@link dev.oppu.model.Scalars}) autograd kept number operands that lived in Java direct buffers
 * DJL had already released; every GC could free them before the backward pass read them, and with this GC pressure
 * nearly every training's gradients came out NaN or wrong from its first step.
 */
class ConcurrentTrainingTest {
  private static final int USERS = 2;

  @Test
  void trainingsNextToGenerationAndGcEqualTheSameTrainingsAlone(@TempDir Path dir) throws Exception {
    try (TinyWorld w = new TinyWorld(dir)) {
      UserAdapterUpdater.Settings s = TinyWorld.settings(2e-2);
      List<List<TokenizedExample>> data = new ArrayList<>();
      for (int u = 0; u < USERS; u++) {
        List<Map<String, String>> items = TinyWorld.history("u" + u, 12, 1000 + u).stream()
            .map(UserAdapterUpdater.Item::fields).toList();
        data.add(new ExampleBuilder(Task.MOVIE_TAGGING, s.examples(Variant.PLAIN), w.encoder).build(items, null, 0));
      }
      List<byte[]> alone = new ArrayList<>();
      for (int u = 0; u < USERS; u++) {
        alone.add(train(w, s, data.get(u), u));
      }

      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger rounds = new AtomicInteger();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      // serving's shape of work: batched generation with per-row adapters and candidate scoring, on a thread whose
      // grad mode is PyTorch's default (on), as on a Kafka Streams thread
      Thread serving = new Thread(() -> {
        try (LoraAdapter a = LoraAdapter.create(w.model.config(), s.lora(), 99, w.model.manager())) {
          List<int[]> prompts = List.of(data.get(0).get(0).tokens(), data.get(1).get(0).tokens());
          Generator g = new Generator(w.model, w.encoder.padId(), new int[0]);
          while (!stop.get()) {
            g.generate(prompts, Arrays.asList(a, null), Generator.Options.greedy(4));
            CausalLm.candidateLogProbs(w.model, prompts.get(0), List.of(new int[] {5, 6}, new int[] {7}), a);
            rounds.incrementAndGet();
          }
        } catch (Throwable t) {
          failure.set(t);
        }
      }, "test-serving");
      // frequent collections make the lifetime bug deterministic instead of a few percent
      Thread gc = new Thread(() -> {
        while (!stop.get()) {
          System.gc();
          try {
            Thread.sleep(2);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "test-gc");
      serving.start();
      gc.start();
      List<byte[]> together = new ArrayList<>();
      try {
        for (int u = 0; u < USERS; u++) {
          together.add(train(w, s, data.get(u), u));
        }
      } finally {
        stop.set(true);
        serving.join();
        gc.join();
      }
      assertNull(failure.get(), () -> "serving thread failed: " + failure.get());
      assertTrue(rounds.get() > 0, "generation ran next to the trainings");
      for (int u = 0; u < USERS; u++) {
        assertTrue(alone.get(u) != null, "user " + u + " alone: non-finite");
        assertTrue(together.get(u) != null, "user " + u + " next to serving and GC: non-finite");
        assertArrayEquals(alone.get(u), together.get(u), "user " + u + ": differs from the same training alone");
      }
    }
  }

  /** The adapter's bytes after training, or null if the training was not finite. */
  private static byte[] train(TinyWorld w, UserAdapterUpdater.Settings s, List<TokenizedExample> examples, int u) {
    try (LoraAdapter a = LoraAdapter.create(w.model.config(), s.lora(), 7 + u, w.model.manager())) {
      AdapterTraining.Result r = AdapterTraining.train(w.lm, a, examples, s.training(), w.encoder.padId(), 11 + u,
          null);
      return r.finite() ? a.rawBytes() : null;
    }
  }
}
