package dev.oppu.streams;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the off-heap memory of all RocksDB stores of this JVM together. Left at Kafka Streams' defaults each store
 * instance has its own 50 MB block cache and up to three 16 MB memtables, plus index and filter blocks outside any
 * cache: with 8 stores per task that is up to ~0.8 GB per partition, and it fills as the stores grow, so a process's
 * memory grows with its data and its partition count. Here every store shares one LRU cache that also holds index and
 * filter blocks and is charged for the memtables (RocksDB's write buffer manager), so the total stays at
 * {@value #MEMORY_BYTES} whatever the number of stores.
 *
 * <p>Settings (StreamsConfig keys, read once per JVM, when the first store opens): {@value #MEMORY_BYTES} (default
 * 128 MiB) and {@value #MEMTABLE_FRACTION} (its share for memtables, default 0.5). They are plain client keys, not
 * {@code oppu.*} ones, so that {@code --kafka-config} / {@code -X} pass them through to the Streams configuration.
 */
public final class BoundedRocksDbConfig implements RocksDBConfigSetter {
  public static final String MEMORY_BYTES = "rocksdb.bounded.memory.bytes";
  public static final String MEMTABLE_FRACTION = "rocksdb.bounded.memtable.fraction";
  static final long DEFAULT_MEMORY_BYTES = 128L << 20;
  static final double DEFAULT_MEMTABLE_FRACTION = 0.5;

  // One cache and one write buffer manager for every store in the JVM; never closed (they live as long as it).
  private static Cache cache;
  private static WriteBufferManager writeBuffers;

  private static synchronized void init(Map<String, Object> configs) {
    if (cache != null) {
      return;
    }
    long total = parseLong(configs.get(MEMORY_BYTES), DEFAULT_MEMORY_BYTES);
    double memtables = parseDouble(configs.get(MEMTABLE_FRACTION), DEFAULT_MEMTABLE_FRACTION);
    if (total < (8L << 20) || memtables <= 0 || memtables >= 1) {
      throw new IllegalArgumentException(MEMORY_BYTES + " must be at least 8 MiB and " + MEMTABLE_FRACTION
          + " in (0, 1), got " + total + " and " + memtables);
    }
    // strict capacity off: a read that needs a block when the cache is full still succeeds (and evicts)
    cache = new LRUCache(total, -1, false, 0.1);
    writeBuffers = new WriteBufferManager((long) (total * memtables), cache);
  }

  @Override
  public void setConfig(String storeName, Options options, Map<String, Object> configs) {
    init(configs);
    BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
    table.setBlockCache(cache);
    table.setCacheIndexAndFilterBlocks(true);
    table.setCacheIndexAndFilterBlocksWithHighPriority(true);
    table.setPinTopLevelIndexAndFilter(true);
    options.setWriteBufferManager(writeBuffers);
    options.setTableFormatConfig(table);
  }

  @Override
  public void close(String storeName, Options options) {
    // the shared cache and write buffer manager outlive every single store
  }

  private static long parseLong(Object v, long dflt) {
    return v == null ? dflt : Long.parseLong(v.toString().strip());
  }

  private static double parseDouble(Object v, double dflt) {
    return v == null ? dflt : Double.parseDouble(v.toString().strip());
  }
}
