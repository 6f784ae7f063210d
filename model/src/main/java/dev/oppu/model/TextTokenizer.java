package dev.oppu.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's tokenizers binding, loaded from a local file (never from the
 * hub). No truncation, no padding: the caller decides lengths.
 */
public final class TextTokenizer implements AutoCloseable {

  public static final String FILE = "tokenizer.json";

  private final HuggingFaceTokenizer tokenizer;
  private final Path source;
  private final int eosId;
  private final int padId;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, Path source, int eosId, int padId) {
    this.tokenizer = tokenizer;
    this.source = source;
    this.eosId = eosId;
    this.padId = padId;
  }

  /**
   * Loads {@code tokenizer.json} from a file or a model directory. EOS and pad ids come from the model config when
   * given (else from the tokens {@code </s>}, {@code <|endoftext|>}, {@code <pad>}).
   */
  public static TextTokenizer load(Path fileOrDir, LlamaConfig config) throws IOException {
    Path file = Files.isDirectory(fileOrDir) ? fileOrDir.resolve(FILE) : fileOrDir;
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "tokenizer.json not found");
    }
    HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file, Map.of(
        "addSpecialTokens", "false", "truncation", "false", "padding", "false", "modelMaxLength", "1000000000"));
    int eos = config != null && config.eosTokenIds().length > 0 ? config.eosTokenIds()[0]
        : firstKnown(t, "</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>");
    int pad = config != null && config.padTokenId() >= 0 ? config.padTokenId()
        : firstKnown(t, "<pad>", "<|pad|>", "[PAD]");
    if (pad < 0) {
      pad = Math.max(eos, 0);
    }
    return new TextTokenizer(t, file, eos, pad);
  }

  private static int firstKnown(HuggingFaceTokenizer t, String... tokens) {
    for (String tok : tokens) {
      long[] ids = t.encode(tok, false, false).getIds();
      if (ids.length == 1) {
        return (int) ids[0];
      }
    }
    return -1;
  }

  /** Token ids of {@code text}, no special tokens added. */
  public int[] encode(String text) {
    return toInt(tokenizer.encode(text, false, false).getIds());
  }

  /** Token ids with the tokenizer's post-processor special tokens (e.g. BOS). */
  public int[] encodeWithSpecialTokens(String text) {
    return toInt(tokenizer.encode(text, true, false).getIds());
  }

  /** Text of {@code ids}, special tokens skipped. */
  public String decode(int[] ids) {
    return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
  }

  public int eosId() {
    return eosId;
  }

  public int padId() {
    return padId;
  }

  /** Copies the tokenizer file into a model directory. */
  public void save(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path target = dir.resolve(FILE);
    if (!target.toAbsolutePath().equals(source.toAbsolutePath())) {
      Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static int[] toInt(long[] ids) {
    return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
