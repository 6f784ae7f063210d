package dev.oppu.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * PyTorch's grad mode is per thread and ON by default in threads DJL did not initialize (a GradientCollector restores
 * the mode it found). Outside a collector we want it off: no autograd graph for evaluation, and in-place optimizer
 * updates of leaves that require grad are allowed.
 */
public final class GradMode {
  private GradMode() {}

  /** Turns autograd recording off on the calling thread. */
  public static void off() {
    JniUtils.setGradMode(false);
  }

  /** Zeroes a parameter's gradient in place (NaN-safe, unlike {@code g.subi(g)}). */
  public static void zeroGrad(NDArray param) {
    JniUtils.zeroGrad((PtNDArray) param);
  }
}
