package dev.oppu.model;

import java.util.List;
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
  private static final List<String> SETTINGS =
      List.of("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_");
  private static volatile boolean done;

  private MallocCheck() {}

  static void once() {
    if (done) {
      return;
    }
    done = true;
    // All three count: without the trim threshold (or the top pad) freed memory goes back to the system after each
    // batch and the page faults return (BENCHMARKS.md, "Serving").
    List<String> unset = SETTINGS.stream().filter(v -> System.getenv(v) == null).toList();
    if (System.getProperty("os.name", "").startsWith("Linux") && !unset.isEmpty()) {
      LOG.warn("{} not set: glibc maps and unmaps every tensor above 32 MiB, which makes batched training and"
          + " serving 2-5x slower. Start the JVM with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824"
          + " MALLOC_TOP_PAD_=268435456 in its environment, as the oppu script does.", String.join(", ", unset));
    }
  }
}
