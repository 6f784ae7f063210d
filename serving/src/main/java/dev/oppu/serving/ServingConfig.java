package dev.oppu.serving;

import dev.oppu.schemas.InputLimits;
import java.util.Properties;

/**
 * Serving configuration, read from {@code oppu.serving.*} properties.
 *
 * <p>Defaults: mode OPPU+RAG with k = 1 (OPPU's best-performing combination; the trainer's default variant is the
 * one this mode reads, {@code rag}), greedy decoding of at most 32 new tokens, label tasks constrained to their label
 * list, micro-batches of at most 16 requests or 20 ms of waiting, an adapter cache of 256 adapters or 256 MiB.
 *
 * @param defaultMode        mode of a request that names none ({@code oppu.serving.mode})
 * @param defaultK           retrieved items of a RAG request that names no k ({@code oppu.serving.k})
 * @param maxK               largest k a request may ask for ({@code oppu.serving.max.k})
 * @param maxBatch           most requests decoded in one batch ({@code oppu.serving.batch.max})
 * @param maxWaitMs          longest a request waits for its batch to fill ({@code oppu.serving.batch.wait.ms})
 * @param maxNewTokens       generation budget per answer ({@code oppu.serving.max.new.tokens})
 * @param maxInputChars      longer request inputs are bad requests ({@code oppu.serving.max.input.chars})
 * @param retrievedWords     a retrieved item's input field is cut to this many words, as in training
 *                           ({@code oppu.serving.retrieved.words})
 * @param constrained        label tasks answer with the most likely label of their list
 *                           ({@code oppu.serving.constrained}, default true; false: free generation)
 * @param cacheMaxAdapters   LRU bound on loaded adapters, by count ({@code oppu.serving.cache.adapters})
 * @param cacheMaxBytes      LRU bound on loaded adapters, by weight bytes ({@code oppu.serving.cache.bytes})
 * @param adapterStore       the trainer's store of adapters too large to inline ({@code oppu.adapter.store}, default
 *                           {@code adapter-store}, as {@code run trainer}): the only place an adapter record's
 *                           weights path may point to
 * @param limits             id length limit (a request whose request or user id is longer is dead-lettered, with no
 *                           error response: the response would carry the oversize ids) and the dead-letter prefix;
 *                           {@code oppu.ids.max.length} and {@code oppu.dead-letters.max.value.bytes}, shared with
 *                           ingestion (see {@link InputLimits})
 */
public record ServingConfig(Mode defaultMode, int defaultK, int maxK, int maxBatch, long maxWaitMs, int maxNewTokens,
    int maxInputChars, int retrievedWords, boolean constrained, int cacheMaxAdapters, long cacheMaxBytes,
    java.nio.file.Path adapterStore, InputLimits limits) {

  /** Property naming the adapter store; trainer and serving must agree on it. */
  public static final String ADAPTER_STORE = "oppu.adapter.store";
  public static final String DEFAULT_ADAPTER_STORE = "adapter-store";

  public static final String PREFIX = "oppu.serving.";

  public ServingConfig {
    if (defaultK < 0 || maxK < defaultK) {
      throw new IllegalArgumentException("need 0 <= k <= max.k, got k=" + defaultK + " max.k=" + maxK);
    }
    if (maxBatch < 1 || maxWaitMs < 1 || maxNewTokens < 1 || maxInputChars < 1 || retrievedWords < 1) {
      throw new IllegalArgumentException("batch.max, batch.wait.ms, max.new.tokens, max.input.chars and"
          + " retrieved.words must be positive");
    }
    if (cacheMaxAdapters < 1 || cacheMaxBytes < 1) {
      throw new IllegalArgumentException("cache bounds must be positive");
    }
    java.util.Objects.requireNonNull(limits, "limits");
  }

  public static ServingConfig defaults() {
    return from(new Properties());
  }

  public static ServingConfig from(Properties p) {
    return new ServingConfig(
        Mode.of(p.getProperty(PREFIX + "mode", Mode.OPPU_RAG.id())),
        intProp(p, "k", 1),
        intProp(p, "max.k", 32),
        intProp(p, "batch.max", 16),
        longProp(p, "batch.wait.ms", 20),
        intProp(p, "max.new.tokens", 32),
        intProp(p, "max.input.chars", 32_768),
        intProp(p, "retrieved.words", 48),
        Boolean.parseBoolean(p.getProperty(PREFIX + "constrained", "true").trim()),
        intProp(p, "cache.adapters", 256),
        longProp(p, "cache.bytes", 256L << 20),
        java.nio.file.Path.of(p.getProperty(ADAPTER_STORE, DEFAULT_ADAPTER_STORE)),
        InputLimits.from(p));
  }

  public ServingConfig withMaxBatch(int n) {
    return new ServingConfig(defaultMode, defaultK, maxK, n, maxWaitMs, maxNewTokens, maxInputChars, retrievedWords,
        constrained, cacheMaxAdapters, cacheMaxBytes, adapterStore, limits);
  }

  public ServingConfig withMaxWaitMs(long ms) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, ms, maxNewTokens, maxInputChars, retrievedWords,
        constrained, cacheMaxAdapters, cacheMaxBytes, adapterStore, limits);
  }

  public ServingConfig withMaxNewTokens(int n) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, maxWaitMs, n, maxInputChars, retrievedWords,
        constrained, cacheMaxAdapters, cacheMaxBytes, adapterStore, limits);
  }

  public ServingConfig withConstrained(boolean c) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, maxWaitMs, maxNewTokens, maxInputChars,
        retrievedWords, c, cacheMaxAdapters, cacheMaxBytes, adapterStore, limits);
  }

  public ServingConfig withDefaultMode(Mode m) {
    return new ServingConfig(m, defaultK, maxK, maxBatch, maxWaitMs, maxNewTokens, maxInputChars, retrievedWords,
        constrained, cacheMaxAdapters, cacheMaxBytes, adapterStore, limits);
  }

  public ServingConfig withCache(int adapters, long bytes) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, maxWaitMs, maxNewTokens, maxInputChars,
        retrievedWords, constrained, adapters, bytes, adapterStore, limits);
  }

  public ServingConfig withAdapterStore(java.nio.file.Path store) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, maxWaitMs, maxNewTokens, maxInputChars,
        retrievedWords, constrained, cacheMaxAdapters, cacheMaxBytes, store, limits);
  }

  public ServingConfig withLimits(InputLimits l) {
    return new ServingConfig(defaultMode, defaultK, maxK, maxBatch, maxWaitMs, maxNewTokens, maxInputChars,
        retrievedWords, constrained, cacheMaxAdapters, cacheMaxBytes, adapterStore, l);
  }

  private static int intProp(Properties p, String key, int dflt) {
    String v = p.getProperty(PREFIX + key);
    try {
      return v == null ? dflt : Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(PREFIX + key + " must be an integer, got '" + v + "'");
    }
  }

  private static long longProp(Properties p, String key, long dflt) {
    String v = p.getProperty(PREFIX + key);
    try {
      return v == null ? dflt : Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(PREFIX + key + " must be an integer, got '" + v + "'");
    }
  }
}
