package dev.oppu.serving;

import dev.oppu.serving.BatchGenerator.LoadedAdapter;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loaded adapters in memory under an LRU bound on count and bytes, in front of the (RocksDB) adapter store. A newer
 * version replaces a cached one on its first use. Entries are leased: an adapter evicted while a batch still uses it
 * is closed when that batch releases it, so one batch may briefly hold more than the bounds.
 */
public final class AdapterCache implements AutoCloseable {

  /** How a cache miss is filled. */
  @FunctionalInterface
  public interface Loader {
    LoadedAdapter load(AdapterVersion version) throws Exception;
  }

  /** A use of a cached adapter; close it when the batch is done. */
  public final class Lease implements AutoCloseable {
    private final Entry entry;
    private boolean released;

    private Lease(Entry entry) {
      this.entry = entry;
    }

    public LoadedAdapter adapter() {
      return entry.adapter;
    }

    public long version() {
      return entry.version;
    }

    @Override
    public void close() {
      synchronized (AdapterCache.this) {
        if (!released) {
          released = true;
          entry.refs--;
          if (entry.retired && entry.refs == 0) {
            entry.adapter.close();
          }
        }
      }
    }
  }

  private static final class Entry {
    final String key;
    final long version;
    final LoadedAdapter adapter;
    final long bytes;
    int refs;
    boolean retired;

    Entry(String key, long version, LoadedAdapter adapter) {
      this.key = key;
      this.version = version;
      this.adapter = adapter;
      this.bytes = adapter.sizeBytes();
    }
  }

  private final int maxAdapters;
  private final long maxBytes;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
  private long bytes;
  private long hits;
  private long loads;
  private long evictions;

  public AdapterCache(int maxAdapters, long maxBytes) {
    if (maxAdapters < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("cache bounds must be positive");
    }
    this.maxAdapters = maxAdapters;
    this.maxBytes = maxBytes;
  }

  /** The adapter of {@code version}, loaded on a miss or when the cached one is of another version. */
  public synchronized Lease acquire(AdapterVersion version, Loader loader) throws Exception {
    String key = key(version);
    Entry e = entries.get(key);
    if (e != null && e.version == version.getVersion()) {
      hits++;
    } else {
      if (e != null) {
        remove(e);
      }
      LoadedAdapter loaded = loader.load(version);
      loads++;
      e = new Entry(key, version.getVersion(), loaded);
      entries.put(key, e);
      bytes += e.bytes;
      evictBeyondBounds(e);
    }
    e.refs++;
    return new Lease(e);
  }

  /** Drops the cached adapter of a key (e.g. after a tombstone), closing it once unused. */
  public synchronized void invalidate(String adapterKey) {
    Entry e = entries.get(adapterKey);
    if (e != null) {
      remove(e);
    }
  }

  public synchronized int size() {
    return entries.size();
  }

  public synchronized long bytes() {
    return bytes;
  }

  /** The cached version of a key, or null. Does not touch the LRU order. */
  public synchronized Long cachedVersion(String adapterKey) {
    for (Entry e : entries.values()) {
      if (e.key.equals(adapterKey)) {
        return e.version;
      }
    }
    return null;
  }

  public synchronized long hits() {
    return hits;
  }

  public synchronized long loads() {
    return loads;
  }

  public synchronized long evictions() {
    return evictions;
  }

  private void evictBeyondBounds(Entry keep) {
    Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
    while ((entries.size() > maxAdapters || bytes > maxBytes) && it.hasNext()) {
      Entry victim = it.next().getValue();
      if (victim == keep) {
        continue; // the newest entry stays even when it alone exceeds the byte bound
      }
      it.remove();
      retire(victim);
      evictions++;
    }
  }

  private void remove(Entry e) {
    entries.remove(e.key);
    retire(e);
  }

  private void retire(Entry e) {
    bytes -= e.bytes;
    e.retired = true;
    if (e.refs == 0) {
      e.adapter.close();
    }
  }

  static String key(AdapterVersion v) {
    return Topics.adapterKey(v.getUserId(), v.getTask(), v.getVariant());
  }

  @Override
  public synchronized void close() {
    for (Entry e : entries.values()) {
      retire(e);
    }
    entries.clear();
  }
}
