package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import java.util.List;

/**
 * Batched generation as the serving topology sees it: one call decodes many requests of different users together,
 * each row with its own adapter (or none), S-LoRA / Punica style. Implementations own the task models (base with the
 * task LoRA merged in) and know their fingerprints, so serving can refuse adapters trained on another base.
 */
public interface BatchGenerator extends AutoCloseable {

  /**
   * One row of a batch.
   *
   * @param task         the task, which selects the task model
   * @param prompt       the full model input text (SPEC section 2)
   * @param adapter      the user's adapter, or null for the task model alone
   * @param maxNewTokens generation budget
   * @param candidates   non-null for constrained decoding: the answer is the candidate with the highest summed
   *                     log-probability as a continuation of the prompt
   */
  record Row(Task task, String prompt, LoadedAdapter adapter, int maxNewTokens, List<String> candidates) {}

  /** What an adapter must have been trained on to be combined with a task model. */
  record Fingerprint(String base, String task) {}

  /** An adapter loaded for generation; {@link #close} frees its weights. */
  interface LoadedAdapter extends AutoCloseable {
    /** Weight bytes held, for the cache's byte bound. */
    long sizeBytes();

    @Override
    void close();
  }

  /** The fingerprints of the running task model of {@code task}, or null when this server has no model for it. */
  Fingerprint fingerprint(Task task);

  /** Loads the weights of a published adapter (inline or by reference, checking the SHA-256). */
  LoadedAdapter load(AdapterVersion version) throws Exception;

  /** Answers, one per row, in row order (whitespace-stripped text without the prompt). */
  List<String> generate(List<Row> rows);

  @Override
  default void close() {}
}
