package dev.oppu.trainer.examples;

import ai.djl.ndarray.NDManager;
import dev.oppu.model.CausalLm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One causal-LM training sequence: {@code tokens[0..promptLength)} are the prompt (masked out of the loss),
 * {@code tokens[promptLength..)} the answer followed by EOS, the only positions the loss counts.
 *
 * @param itemIndex the history item the example was built from (oldest item = 0)
 */
public record TokenizedExample(int[] tokens, int promptLength, int itemIndex) {
  public TokenizedExample {
    if (promptLength < 1 || promptLength >= tokens.length) {
      throw new IllegalArgumentException("an example needs a prompt and at least one target token");
    }
  }

  /** Number of tokens whose prediction the loss counts (answer + EOS). */
  public int targetCount() {
    return tokens.length - promptLength;
  }

  /** Whether the loss counts the prediction of {@code tokens[position]} (made at {@code position - 1}). */
  public boolean isTarget(int position) {
    return position >= promptLength && position < tokens.length;
  }

  /** A right-padded batch of examples whose loss ({@link CausalLm#loss}, {@link CausalLm#lossAt}) counts the answers. */
  public static CausalLm.Batch batch(List<TokenizedExample> examples, int padId, NDManager manager) {
    List<int[]> prompts = new ArrayList<>(examples.size());
    List<int[]> answers = new ArrayList<>(examples.size());
    for (TokenizedExample e : examples) {
      prompts.add(Arrays.copyOf(e.tokens(), e.promptLength()));
      answers.add(Arrays.copyOfRange(e.tokens(), e.promptLength(), e.tokens().length));
    }
    return CausalLm.promptAnswerBatch(manager, prompts, answers, padId);
  }
}
