package dev.oppu.trainer.examples;

/** The tokenizer as example building sees it: text to ids without special tokens, plus the special ids. */
public interface TokenEncoder {
  int[] encode(String text);

  int eosId();

  /** The id prepended to every sequence, or -1 for none. */
  int bosId();

  int padId();
}
