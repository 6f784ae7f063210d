package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Scalar operands for arithmetic that autograd may record. Use {@code x.mul(Scalars.of(x, c))}, never
 * {@code x.mul(c)}, on any path a backward pass can go through.
 *
 * <p>Why: DJL's PyTorch {@code NDArray.mul(Number)} (and div, add, sub, pow) wraps the number in a tensor made by
 * {@code torch::from_blob} over a Java direct buffer, and closes that tensor as soon as the op returns. mul and div
 * save that operand for the backward pass, but nothing keeps the Java buffer alive: once the garbage collector frees
 * it (and malloc hands the memory to someone else) backward reads freed memory, so gradients come out wrong or
 * non-finite while the loss is fine. It depends on GC timing, so it showed up as a few percent of trainings going NaN
 * when other threads allocated (serving next to the trainer, a second training in the same JVM) and never in a
 * training alone. A tensor from {@code full} lives in PyTorch's own memory, which the graph keeps alive by reference
 * counting, so closing its Java handle early is harmless.
 */
public final class Scalars {
  private Scalars() {}

  /** A 0-dim tensor of {@code value} in PyTorch-owned memory, with {@code like}'s manager, type and device. */
  public static NDArray of(NDArray like, double value) {
    return like.getManager().full(new Shape(), (float) value, like.getDataType());
  }
}
