package dev.oppu.serving;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.StoreNames;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the latest adapter of each (user, task, variant) in the local adapter store, from the adapters topic
 * repartitioned by user. A tombstone (user deletion) removes it and drops it from the cache; an older version than
 * the stored one is ignored, so a replayed record never rolls an adapter back.
 */
final class AdapterMaterializer implements Processor<String, AdapterVersion, Void, Void> {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterMaterializer.class);

  private final AdapterCache cache;
  private KeyValueStore<String, AdapterVersion> store;

  AdapterMaterializer(AdapterCache cache) {
    this.cache = cache;
  }

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    store = context.getStateStore(StoreNames.ADAPTER_STORE);
  }

  @Override
  public void process(org.apache.kafka.streams.processor.api.Record<String, AdapterVersion> record) {
    String key = record.key();
    if (key == null) {
      return;
    }
    AdapterVersion v = record.value();
    if (v == null) {
      cache.invalidate(key);
      if (store.get(key) != null) { // a user deletion tombstones every key the user could have: most are absent
        store.delete(key);
        LOG.info("adapter {} deleted", key);
      }
      return;
    }
    if (!key.equals(dev.oppu.schemas.Topics.adapterKey(v.getUserId(), v.getTask(), v.getVariant()))) {
      LOG.error("adapter record key {} does not match its content ({}, {}, {}): ignored", key, v.getUserId(),
          v.getTask(), v.getVariant());
      return;
    }
    AdapterVersion old = store.get(key);
    if (old != null && old.getVersion() > v.getVersion()) {
      return;
    }
    store.put(key, v);
    LOG.debug("adapter {} now at version {}", key, v.getVersion());
  }
}
