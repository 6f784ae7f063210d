package dev.oppu.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraBatch;
import java.util.ArrayList;
import java.util.List;

/** {@link LoraLm} on the project's Llama decoder: the adapter is applied unmerged, so only A and B get gradients. */
public final class LlamaLoraLm implements LoraLm {
  private final LlamaModel model;

  public LlamaLoraLm(LlamaModel model) {
    this.model = model;
  }

  public LlamaModel model() {
    return model;
  }

  @Override
  public NDManager manager() {
    return model.manager();
  }

  @Override
  public LlamaConfig config() {
    return model.config();
  }

  @Override
  public NDArray logits(NDArray tokens, LoraAdapter adapter, boolean training) {
    // right padding: causal attention keeps pads out of every real position's view, so no mask is needed
    return model.forward(tokens, null, null, adapter == null ? null : LoraBatch.of(adapter), null, false, training);
  }

  @Override
  public NDArray logitsAt(NDArray tokens, LoraAdapter adapter, boolean training, NDArray positions) {
    return model.forwardAt(tokens, adapter == null ? null : LoraBatch.of(adapter), training, positions);
  }

  @Override
  public NDArray logitsAt(NDArray tokens, java.util.List<LoraAdapter> rowAdapters, boolean training,
      NDArray positions) {
    // each adapter's rows are consecutive (a multi-user batch): one slice per adapter, no per-row stacking
    List<LoraAdapter> adapters = new ArrayList<>();
    List<Long> rows = new ArrayList<>();
    for (LoraAdapter a : rowAdapters) {
      if (!adapters.isEmpty() && adapters.get(adapters.size() - 1) == a) {
        rows.set(rows.size() - 1, rows.get(rows.size() - 1) + 1);
      } else {
        adapters.add(a);
        rows.add(1L);
      }
    }
    if (adapters.contains(null)) {
      try (LoraBatch lora = LoraBatch.perRow(rowAdapters, model.manager())) {
        return model.forwardAt(tokens, lora, training, positions);
      }
    }
    return model.forwardAt(tokens, LoraBatch.segments(adapters, rows.stream().mapToLong(Long::longValue).toArray()),
        training, positions);
  }
}
