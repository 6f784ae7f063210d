package dev.oppu.cli;

import dev.oppu.serving.ServingConfig;
import dev.oppu.system.OppuSystem;
import java.nio.file.Path;
import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * The content-addressed store of adapters too large to inline in their record ({@code @Mixin AdapterStoreOptions}):
 * the trainer writes it, serving reads only from it, export and delete read and clean it. One option, one default.
 */
public final class AdapterStoreOptions {

  @Option(names = "--adapter-store", paramLabel = "DIR",
      description = "Store of adapters too large to inline; the trainer writes it, serving reads adapter weights only"
          + " from it (others are dead-lettered); trainer, streams and user commands must agree (default: property "
          + ServingConfig.ADAPTER_STORE + ", else " + OppuSystem.DEFAULT_ADAPTER_STORE + ").")
  Path adapterStore;

  /** The store: this option, else {@code oppu.adapter.store} in {@code settings}, else the default. */
  public Path adapterStore(Properties settings) {
    return OppuSystem.adapterStore(adapterStore, settings);
  }

  /** The option as given (null when not). */
  public Path given() {
    return adapterStore;
  }
}
