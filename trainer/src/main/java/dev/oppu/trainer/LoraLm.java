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
}
