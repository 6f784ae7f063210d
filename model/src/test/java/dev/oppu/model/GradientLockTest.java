package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.training.GradientCollector;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The process's one GradientCollector: opened under the one lock, which closing it releases. */
class GradientLockTest {
  @Test
  void aCollectorHoldsTheLockUntilItIsClosed() throws Exception {
    try (GradientCollector gc = CausalLm.gradientCollector()) {
      assertTrue(CausalLm.GRADIENT_LOCK.isHeldByCurrentThread());
      boolean other = CompletableFuture.supplyAsync(() -> {
        try {
          boolean got = CausalLm.GRADIENT_LOCK.tryLock(200, TimeUnit.MILLISECONDS);
          if (got) {
            CausalLm.GRADIENT_LOCK.unlock();
          }
          return got;
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }).get();
      assertFalse(other, "no second collector while one is open");
    }
    assertFalse(CausalLm.GRADIENT_LOCK.isLocked());
  }
}
