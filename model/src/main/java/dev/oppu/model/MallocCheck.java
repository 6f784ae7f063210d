package dev.oppu.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PyTorch takes CPU tensors from malloc, and glibc maps every block above 32 MiB on its own and unmaps it on free:
 * a batch's attention scores and logits are then page-faulted in again at every step. Measured on the default model
 * (BENCHMARKS.md, "Serving"): training steps 2x slower, a serving batch of 32 2-5x slower per row. The {@code oppu}
 * script sets the allocator; a JVM started another way is told once.
 */
final class MallocCheck {
  private static final Logger LOG = LoggerFactory.getLogger(MallocCheck.class);
  private static volatile boolean done;

  private MallocCheck() {}

  static void once() {
    if (done) {
      return;
    }
    done = true;
    if (System.getProperty("os.name", "").startsWith("Linux") && System.getenv("MALLOC_MMAP_MAX_") == null) {
      LOG.warn("MALLOC_MMAP_MAX_ is not set: glibc maps and unmaps every tensor above 32 MiB, which makes batched"
          + " training and serving 2-5x slower. Start the JVM with MALLOC_MMAP_MAX_=0"
          + " MALLOC_TRIM_THRESHOLD_=1073741824 in its environment, as the oppu script does.");
    }
  }
}
