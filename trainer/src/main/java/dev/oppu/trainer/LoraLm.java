package dev.oppu.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LoraAdapter;

/** What training needs of the model: logits for a batch with one LoRA adapter applied to every row. */
public interface LoraLm {
  NDManager manager();

  LlamaConfig config();

  /**
   * @param tokens [B, T] int64, right-padded
   * @param training applies LoRA dropout when true
   * @return logits [B, T, V]
   */
  NDArray logits(NDArray tokens, LoraAdapter adapter, boolean training);

  /**
   * Logits at some positions only.
   *
   * @param positions flat indices {@code b * T + t} into {@code tokens} [K]
   * @return logits [K, V]
   */
  NDArray logitsAt(NDArray tokens, LoraAdapter adapter, boolean training, NDArray positions);

  /**
   * Logits at some positions of a batch whose rows each go through their own adapter (multi-user training); the
   * gradient of each adapter comes from its rows only.
   *
   * @param rowAdapters one adapter per row of {@code tokens}
   */
  default NDArray logitsAt(NDArray tokens, java.util.List<LoraAdapter> rowAdapters, boolean training,
      NDArray positions) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " has no per-row adapters");
  }
}
