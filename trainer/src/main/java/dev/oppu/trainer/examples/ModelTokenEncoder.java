package dev.oppu.trainer.examples;

import dev.oppu.model.TextTokenizer;

/**
 * {@link TokenEncoder} over the model's tokenizer. A BOS is prepended exactly when the tokenizer's own post-processor
 * adds one (Llama's tokenizers do; the project's byte-level BPE does not), so training sequences start the way
 * {@link TextTokenizer#encodeWithSpecialTokens} prompts do at serving time.
 */
public final class ModelTokenEncoder implements TokenEncoder {
  private final TextTokenizer tokenizer;
  private final int bos;

  public ModelTokenEncoder(TextTokenizer tokenizer) {
    this.tokenizer = tokenizer;
    int[] plain = tokenizer.encode("a");
    int[] special = tokenizer.encodeWithSpecialTokens("a");
    this.bos = special.length > plain.length && special[0] != plain[0] ? special[0] : -1;
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public int[] encode(String text) {
    return tokenizer.encode(text);
  }

  @Override
  public int eosId() {
    return tokenizer.eosId();
  }

  @Override
  public int bosId() {
    return bos;
  }

  @Override
  public int padId() {
    return tokenizer.padId();
  }
}
