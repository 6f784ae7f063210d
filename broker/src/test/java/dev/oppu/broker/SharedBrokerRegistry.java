package dev.oppu.broker;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/** Records the SharedKafka each test class saw, so tests can check that classes share one broker. */
final class SharedBrokerRegistry {
  static final Set<SharedKafka> SEEN = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

  private SharedBrokerRegistry() {}
}
