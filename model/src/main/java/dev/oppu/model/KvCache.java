package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;

/**
 * Keys and values of the tokens seen so far, per layer, [B, kvHeads, S, headDim] (after rotary embedding), so that
 * each generation step runs the model on the new token only. Outside every {@link NDScope}: close it when done.
 */
public final class KvCache implements AutoCloseable {

  private final NDArray[] keys;
  private final NDArray[] values;
  private long length;

  public KvCache(int numLayers) {
    keys = new NDArray[numLayers];
    values = new NDArray[numLayers];
  }

  /** Number of positions cached (the S of the next forward's key axis before the new tokens). */
  public long length() {
    return length;
  }

  /** Appends the new keys/values [B, kv, T, D] of one layer; returns the full ones [B, kv, S + T, D]. */
  NDArray[] append(int layer, NDArray k, NDArray v) {
    NDArray fullK = keys[layer] == null ? k.duplicate() : NDArrays.concat(new NDList(keys[layer], k), 2);
    NDArray fullV = values[layer] == null ? v.duplicate() : NDArrays.concat(new NDList(values[layer], v), 2);
    NDScope.unregister(fullK, fullV);
    if (keys[layer] != null) {
      keys[layer].close();
      values[layer].close();
    }
    keys[layer] = fullK;
    values[layer] = fullV;
    if (layer == keys.length - 1) {
      length = fullK.getShape().get(2);
    }
    return new NDArray[] {fullK, fullV};
  }

  @Override
  public void close() {
    for (int i = 0; i < keys.length; i++) {
      if (keys[i] != null) {
        keys[i].close();
        values[i].close();
        keys[i] = null;
        values[i] = null;
      }
    }
    length = 0;
  }
}
