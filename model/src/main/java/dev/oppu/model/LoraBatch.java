package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The LoRA adapters of one forward pass: either one adapter for every row (training, single-user serving), or one
 * adapter (or none) per row. Per-row adapters are stacked once per batch into At [B, in, rMax], Bt [B, rMax, out] and
 * a per-row scale [B, 1, 1] (0 for rows without an adapter; ranks padded with zeros), so a mixed batch costs two
 * batched matmuls per module instead of a loop over rows. The stacking is differentiable: in a multi-user training
 * batch each adapter's A and B get the gradient of its own rows only.
 */
public final class LoraBatch implements AutoCloseable {

  private record Slot(NDArray a, NDArray b, NDArray scale, float scaling, float dropout) {
  }

  private final Map<String, Slot> slots;
  private final NDManager owned;
  // segments: consecutive row ranges, each with its own single-adapter batch (multi-user training)
  private final List<LoraBatch> segments;
  private final long[] segmentRows;

  private LoraBatch(Map<String, Slot> slots, NDManager owned) {
    this.slots = slots;
    this.owned = owned;
    this.segments = null;
    this.segmentRows = null;
  }

  private LoraBatch(List<LoraBatch> segments, long[] segmentRows) {
    this.slots = Map.of();
    this.owned = null;
    this.segments = segments;
    this.segmentRows = segmentRows;
  }

  /**
   * Consecutive row ranges, each through its own adapter: the first {@code rows[0]} rows through {@code adapters[0]},
   * and so on (a multi-user training batch, each user's rows together). Each range's delta is that adapter's own
   * (as {@link #of}, dropout included), no stacking: the gradient of an adapter comes from its rows only.
   */
  public static LoraBatch segments(List<LoraAdapter> adapters, long[] rows) {
    if (adapters.size() != rows.length || adapters.isEmpty()) {
      throw new IllegalArgumentException(adapters.size() + " adapters, " + rows.length + " row ranges");
    }
    if (adapters.size() == 1) {
      return of(adapters.get(0));
    }
    return new LoraBatch(adapters.stream().map(LoraBatch::of).toList(), rows.clone());
  }

  /** The same adapter on every row (no copies). */
  public static LoraBatch of(LoraAdapter adapter) {
    Map<String, Slot> s = new HashMap<>();
    for (String p : adapter.modulePaths()) {
      s.put(p, new Slot(adapter.a(p), adapter.b(p), null, (float) adapter.scaling(),
          (float) adapter.config().dropout()));
    }
    return new LoraBatch(s, null);
  }

  /** Explicit A/B per module path (e.g. gradient-tracking copies of an adapter's tensors). */
  static LoraBatch of(Map<String, NDArray[]> ab, double scaling, double dropout) {
    Map<String, Slot> s = new HashMap<>();
    ab.forEach((p, x) -> s.put(p, new Slot(x[0], x[1], null, (float) scaling, (float) dropout)));
    return new LoraBatch(s, null);
  }

  /**
   * One adapter per row, {@code null} for none. Returns null when no row has one, and the single-adapter form when
   * all rows share one. The stacked tensors live in a sub-manager of {@code manager}, freed by {@link #close()}.
   */
  public static LoraBatch perRow(List<LoraAdapter> rows, NDManager manager) {
    Set<LoraAdapter> distinct = new LinkedHashSet<>(rows);
    if (distinct.size() == 1) {
      LoraAdapter only = distinct.iterator().next();
      return only == null ? null : of(only);
    }
    Set<String> paths = new LinkedHashSet<>();
    rows.stream().filter(Objects::nonNull).forEach(a -> paths.addAll(a.modulePaths()));
    // LoRA dropout in training (multi-user batches): one rate for the batch, NaN when the adapters disagree
    float dropout = (float) rows.stream().filter(Objects::nonNull).mapToDouble(a -> a.config().dropout()).distinct()
        .reduce((x, y) -> Double.NaN).orElse(0);
    NDManager m = manager.newSubManager();
    Map<String, Slot> s = new HashMap<>();
    float[] scales = new float[rows.size()];
    for (String p : paths) {
      int rMax = 0;
      long in = -1;
      long out = -1;
      for (LoraAdapter a : rows) {
        if (a != null && a.a(p) != null) {
          rMax = Math.max(rMax, a.config().r());
          in = a.a(p).getShape().get(1);
          out = a.b(p).getShape().get(0);
        }
      }
      // Stacked as stored (A [r, in], B [out, r]), then one transposed view of each stack: no per-row transposes.
      NDList as = new NDList();
      NDList bs = new NDList();
      List<NDArray> temp = new ArrayList<>();
      NDArray zeroA = null;
      NDArray zeroB = null;
      for (int i = 0; i < rows.size(); i++) {
        LoraAdapter a = rows.get(i);
        if (a == null || a.a(p) == null) {
          if (zeroA == null) {
            zeroA = m.zeros(new Shape(rMax, in), DataType.FLOAT32);
            zeroB = m.zeros(new Shape(out, rMax), DataType.FLOAT32);
          }
          as.add(zeroA);
          bs.add(zeroB);
          scales[i] = 0;
          continue;
        }
        scales[i] = (float) a.scaling();
        NDArray ai = a.a(p); // [r, in]
        NDArray bi = a.b(p); // [out, r]
        int r = a.config().r();
        if (r < rMax) {
          ai = NDArrays.concat(new NDList(ai, m.zeros(new Shape(rMax - r, in), DataType.FLOAT32)), 0);
          bi = NDArrays.concat(new NDList(bi, m.zeros(new Shape(out, rMax - r), DataType.FLOAT32)), 1);
          temp.add(ai);
          temp.add(bi);
        }
        as.add(ai);
        bs.add(bi);
      }
      NDArray sa = NDArrays.stack(as);              // [B, rMax, in]
      NDArray sb = NDArrays.stack(bs);              // [B, out, rMax]
      NDArray a = sa.transpose(0, 2, 1);            // [B, in, rMax]
      NDArray b = sb.transpose(0, 2, 1);            // [B, rMax, out]
      for (NDArray x : new NDArray[] {sa, sb, a, b}) {
        x.attach(m);
      }
      temp.forEach(NDArray::close);
      NDArray scale = m.create(scales.clone(), new Shape(rows.size(), 1, 1));
      NDScope.unregister(sa, sb, a, b, scale); // owned by this batch, not by the caller's scope
      s.put(p, new Slot(a, b, scale, 0f, dropout));
    }
    return new LoraBatch(s, m);
  }

  /** True if some row adapts this module. */
  boolean has(String modulePath) {
    if (segments != null) {
      return segments.stream().anyMatch(b -> b.has(modulePath));
    }
    return slots.containsKey(modulePath);
  }

  /** scaling * B A dropout(x) for x [B, T, in], or null when no row adapts the module. */
  NDArray delta(String modulePath, NDArray x, boolean training) {
    if (segments != null) {
      long adapting = segments.stream().filter(b -> b.has(modulePath)).count();
      if (adapting == 0) {
        return null;
      }
      if (adapting < segments.size()) {
        throw new IllegalStateException("the segments' adapters differ in their modules at " + modulePath);
      }
      NDList parts = new NDList();
      long start = 0;
      for (int i = 0; i < segments.size(); i++) {
        NDArray xi = x.get(new ai.djl.ndarray.index.NDIndex("{}:{}", start, start + segmentRows[i]));
        NDArray d = segments.get(i).delta(modulePath, xi, training);
        if (d == null) {
          throw new IllegalStateException("segment " + i + " does not adapt " + modulePath);
        }
        parts.add(d);
        start += segmentRows[i];
      }
      return NDArrays.concat(parts, 0);
    }
    Slot s = slots.get(modulePath);
    if (s == null) {
      return null;
    }
    if (s.scale == null) {
      NDArray in = training && s.dropout > 0 ? Dropout.dropout(x, s.dropout, true).singletonOrThrow() : x;
      NDArray low = Linear.linear(in, s.a).singletonOrThrow();   // [B, T, r]
      NDArray out = Linear.linear(low, s.b).singletonOrThrow();     // [B, T, out]
      return out.mul(Scalars.of(out, s.scaling)); // not mul(float): the graph keeps the operand (Scalars)
    }
    NDArray in = x;
    if (training && !(s.dropout == 0)) {
      if (Float.isNaN(s.dropout)) {
        throw new IllegalStateException("a training batch needs one LoRA dropout rate for all its adapters");
      }
      in = Dropout.dropout(x, s.dropout, true).singletonOrThrow();
    }
    return in.matMul(s.a).matMul(s.b).mul(s.scale); // [B,T,in]@[B,in,r]@[B,r,out] * [B,1,1]
  }

  @Override
  public void close() {
    if (owned != null) {
      owned.close();
    }
  }
}
