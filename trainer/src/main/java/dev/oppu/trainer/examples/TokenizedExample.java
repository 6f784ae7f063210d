package dev.oppu.trainer.examples;

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
}
