package dev.oppu.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.FakeGenerator.FakeAdapter;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class AdapterCacheTest {
  private static AdapterVersion v(String user, long version, int bytes) {
    AdapterVersion a = Fixtures.adapter(user, Task.MOVIE_TAGGING, "plain", version, "b", "t");
    a.setWeights(ByteBuffer.wrap(new byte[bytes]));
    return a;
  }

  private final FakeGenerator gen = new FakeGenerator();

  @Test
  void evictsLeastRecentlyUsedBeyondCount() throws Exception {
    AdapterCache cache = new AdapterCache(2, 1 << 20);
    FakeAdapter a = (FakeAdapter) lease(cache, v("a", 1, 10));
    FakeAdapter b = (FakeAdapter) lease(cache, v("b", 1, 10));
    lease(cache, v("a", 1, 10)); // a is now the most recent
    FakeAdapter c = (FakeAdapter) lease(cache, v("c", 1, 10));
    assertEquals(2, cache.size());
    assertTrue(b.closed, "least recently used evicted and closed");
    assertFalse(a.closed);
    assertFalse(c.closed);
    assertEquals(1, cache.evictions());
    assertEquals(3, cache.loads());
    assertEquals(1, cache.hits());
  }

  @Test
  void evictsBeyondBytes() throws Exception {
    AdapterCache cache = new AdapterCache(100, 250);
    lease(cache, v("a", 1, 100));
    lease(cache, v("b", 1, 100));
    lease(cache, v("c", 1, 100));
    assertEquals(2, cache.size());
    assertEquals(200, cache.bytes());
    assertNull(cache.cachedVersion(Topics.adapterKey("a", "LaMP_2M", "plain")));
  }

  @Test
  void newerVersionReplacesAndLeasedAdapterClosesOnRelease() throws Exception {
    AdapterCache cache = new AdapterCache(1, 1 << 20);
    AdapterCache.Lease held = cache.acquire(v("a", 1, 10), gen::load);
    FakeAdapter old = (FakeAdapter) held.adapter();
    AdapterCache.Lease newer = cache.acquire(v("a", 2, 10), gen::load);
    assertEquals(2, newer.version());
    assertEquals(1, cache.size());
    assertFalse(old.closed, "still in use by a batch");
    held.close();
    assertTrue(old.closed);
    held.close(); // idempotent
    newer.close();
    AdapterCache.Lease again = cache.acquire(v("a", 2, 10), gen::load);
    assertSame(newer.adapter(), again.adapter());
    again.close();
    cache.invalidate(Topics.adapterKey("a", "LaMP_2M", "plain"));
    assertTrue(((FakeAdapter) again.adapter()).closed);
    assertEquals(0, cache.size());
    assertEquals(0, cache.bytes());
  }

  private BatchGenerator.LoadedAdapter lease(AdapterCache cache, AdapterVersion v) throws Exception {
    try (AdapterCache.Lease l = cache.acquire(v, gen::load)) {
      return l.adapter();
    }
  }
}
