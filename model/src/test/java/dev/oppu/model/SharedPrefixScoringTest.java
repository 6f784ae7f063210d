package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CausalLm#sharedPrefixLogProbs} (each prompt once, its candidates as one token tree on top of the cache) gives
 * every (prompt, candidate) pair the score {@link CausalLm#continuationLogProbs} gives it alone, with no cache, and so
 * the same answer: candidates sharing their beginning, duplicates, one-token candidates, different candidate counts
 * and prompt lengths per row, a row without adapter and adapters of different ranks, on every family (biases,
 * qk-norm, a sliding window shorter than the prompts over all or some layers).
 */
class SharedPrefixScoringTest {

  static NDManager manager;

  @BeforeAll
  static void setUp() {
    manager = NDManager.newBaseManager();
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  static Stream<Family> families() {
    int layers = GeneralityTest.CONFIG.numLayers();
    return Stream.of(Family.llama(), Family.qwen2(), Family.qwen3(), Family.mistral(3, layers),
        Family.qwen2().withWindow(4, List.of(1, 2)));
  }

  static LoraAdapter adapter(LlamaConfig c, LoraConfig lc, long seed) {
    return GeneralityTest.nonTrivial(c, lc, seed, 0.2, manager);
  }

  static int[] seq(int seed, int n, int vocab) {
    Random r = new Random(seed);
    return r.ints(n, 3, vocab).toArray();
  }

  @ParameterizedTest
  @MethodSource("families")
  void treeScoresEqualEachPairAlone(Family family) {
    LlamaConfig c = GeneralityTest.CONFIG.withFamily(family);
    int v = c.vocabSize();
    try (LlamaModel model = LlamaModel.random(c, 11, manager)) {
      LoraAdapter qv = adapter(c, new LoraConfig(8, 16, 0.0, List.of("q_proj", "v_proj"), false), 3);
      LoraAdapter all = adapter(c, new LoraConfig(4, 8, 0.0, LoraConfig.ALL_MODULES, false), 4);
      List<int[]> prompts = List.of(seq(1, 7, v), seq(2, 12, v), seq(3, 3, v), seq(4, 9, v), seq(5, 5, v));
      List<List<int[]>> cands = List.of(
          List.of(new int[] {5, 6, 7}, new int[] {5, 6, 8}, new int[] {5, 9}, new int[] {5}, new int[] {10, 11}),
          List.of(new int[] {5, 6, 7}, new int[] {12}),
          List.of(new int[] {20, 21, 22, 23}, new int[] {20, 21, 22, 24}, new int[] {20, 21, 22, 23},
              new int[] {40, 21, 22, 23, 24, 25}),
          List.of(new int[] {30}, new int[] {31}),
          List.of(seq(6, 5, v), seq(7, 1, v), seq(8, 3, v)));
      List<LoraAdapter> adapters = Arrays.asList(qv, null, all, qv, all);
      float[][] got = CausalLm.sharedPrefixLogProbs(model, prompts, cands, adapters);
      assertEquals(prompts.size(), got.length);
      for (int i = 0; i < prompts.size(); i++) {
        assertEquals(cands.get(i).size(), got[i].length);
        float[] want = new float[got[i].length];
        for (int k = 0; k < want.length; k++) {
          want[k] = CausalLm.continuationLogProbs(model, List.of(prompts.get(i)), List.of(cands.get(i).get(k)),
              adapters.get(i) == null ? null : List.of(adapters.get(i)))[0];
          assertEquals(want[k], got[i][k], 1e-4, family.modelType() + " row " + i + " candidate " + k);
        }
        assertEquals(argmax(want), argmax(got[i]), "row " + i);
      }
      // every row with one-token candidates only: no tree pass
      float[][] single = CausalLm.sharedPrefixLogProbs(model, List.of(prompts.get(3)), List.of(cands.get(3)),
          Arrays.asList((LoraAdapter) null));
      for (int k = 0; k < 2; k++) {
        assertEquals(CausalLm.continuationLogProbs(model, List.of(prompts.get(3)), List.of(cands.get(3).get(k)),
            null)[0], single[0][k], 1e-4);
      }
      // no adapters at all; the rows still differ
      float[][] plain = CausalLm.sharedPrefixLogProbs(model, prompts, cands, null);
      for (int i = 0; i < prompts.size(); i++) {
        for (int k = 0; k < cands.get(i).size(); k++) {
          assertEquals(CausalLm.continuationLogProbs(model, List.of(prompts.get(i)), List.of(cands.get(i).get(k)),
              null)[0], plain[i][k], 1e-4);
        }
      }
      assertTrue(Math.abs(plain[0][0] - got[0][0]) > 1e-3, "the adapter changes the scores");
      qv.close();
      all.close();
    }
  }

  @ParameterizedTest
  @MethodSource("families")
  void emptyCandidatesAreRefused(Family family) {
    LlamaConfig c = GeneralityTest.CONFIG.withFamily(family);
    try (LlamaModel model = LlamaModel.random(c, 11, manager)) {
      assertThrows(IllegalArgumentException.class, () -> CausalLm.sharedPrefixLogProbs(model,
          List.of(new int[] {3, 4}), List.of(List.of()), null));
      assertThrows(IllegalArgumentException.class, () -> CausalLm.sharedPrefixLogProbs(model,
          List.of(new int[] {3, 4}), List.of(List.of(new int[0])), null));
    }
  }

  private static int argmax(float[] s) {
    int best = 0;
    for (int i = 1; i < s.length; i++) {
      if (s[i] > s[best]) {
        best = i;
      }
    }
    return best;
  }
}
