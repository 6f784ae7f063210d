package dev.oppu.streams;

import dev.oppu.schemas.InputLimits;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.standard.StandardAnalyzer;

/**
 * Configuration of the ingestion sub-topology. Every field has a default and a property {@code oppu.ingest.<name>}.
 *
 * @param maxHistory items kept per (user, task); the oldest is evicted from history and index beyond it
 * @param maxFieldChars a behavior with a longer field is dead-lettered as oversize
 * @param analyzer {@code standard} (StandardAnalyzer without stop words, the default), {@code standard-stop},
 *     {@code english}, or the class name of an Analyzer with a public no-argument constructor
 * @param variants adapter variants to trigger training for (plain, rag, pag)
 * @param firstMinItems a user with no adapter gets a first trigger at this many items
 * @param newItemsMax a trigger fires when this many items arrived since the adapter, shift or not
 * @param shiftMinItems at least this many new items before a shift is scored (also the retry gap after a rejection)
 * @param shiftWindow the most recent new items compared with what the adapter was trained on
 * @param labelShiftThreshold total-variation distance of label distributions that counts as a shift
 * @param termShiftThreshold total-variation distance of term distributions (generation tasks) that counts as a shift
 * @param dedupRetention how long an event id is remembered for duplicate detection (record time); it is also
 *     forgotten when its item is evicted from the bounded history
 * @param adapterPartitions partitions of the adapters-by-user repartition topic; must equal the behaviors topic's
 *     partition count (0 = let Kafka Streams derive it, right only when the adapters topic has as many)
 * @param maxQueryTerms retrieval queries are cut to their first this-many terms (SPEC: 64)
 * @param inMemoryStores in-memory stores instead of RocksDB (tests that pipe many records through a
 *     TopologyTestDriver, which flushes every store after every record)
 * @param deletionFence longest a deleted user's fence against trainings still running for them is kept (see
 *     {@link UserDeletions}); it normally ends earlier, when those trainings are answered
 * @param regimeMargin a shift also ends the old behavior (the trainer stops replaying items before it) only when its
 *     score exceeds the shift threshold by this margin and the old behavior is known from at least
 *     {@code 2 x shiftMinItems} items: a false shift costs a training, a false end of the old behavior costs its items
 * @param limits id length limit (a behavior whose user, event or item id is longer is dead-lettered, as is a user
 *     command whose user id is) and the dead-letter prefix; read from {@code oppu.ids.max.length} and
 *     {@code oppu.dead-letters.max.value.bytes}, shared with serving (see {@link InputLimits})
 * @param givenProfiles PAG profiles given per (task, user): a pag trigger carries the user's given profile, else the
 *     one built from the history ({@link UserProfiles}), the text serving's PAG prompts use. Not a property: the
 *     streams application sets serving's given profiles ({@code oppu.serving.profiles.<task>} files) here; default
 *     none
 * @param triggerDelay zero: a behavior's triggers are evaluated at once. Otherwise a (user, task) that received
 *     behaviors is evaluated once none arrived for this long (at the latest ten times this long after the first),
 *     so a burst (a replayed history) trains once instead of from its first item on
 */
public record IngestConfig(int maxHistory, int maxFieldChars, String analyzer, List<String> variants,
    int firstMinItems, int newItemsMax, int shiftMinItems, int shiftWindow, double labelShiftThreshold,
    double termShiftThreshold, Duration dedupRetention, int adapterPartitions, int maxQueryTerms, boolean inMemoryStores,
    Duration deletionFence, double regimeMargin, InputLimits limits, UserProfiles.Given givenProfiles,
    Duration triggerDelay) {

  public static final String PREFIX = "oppu.ingest.";

  public IngestConfig {
    if (maxHistory < 1 || maxFieldChars < 1 || firstMinItems < 1 || newItemsMax < 1 || shiftMinItems < 1
        || shiftWindow < 1 || maxQueryTerms < 1 || adapterPartitions < 0) {
      throw new IllegalArgumentException("ingest configuration: counts must be positive");
    }
    if (variants.isEmpty()) {
      throw new IllegalArgumentException("ingest configuration: at least one variant");
    }
    variants = List.copyOf(variants);
    if (deletionFence.isNegative() || deletionFence.isZero()) {
      throw new IllegalArgumentException("ingest configuration: deletion-fence must be positive");
    }
    java.util.Objects.requireNonNull(limits, "limits");
    java.util.Objects.requireNonNull(givenProfiles, "givenProfiles");
    if (triggerDelay.isNegative()) {
      throw new IllegalArgumentException("ingest configuration: trigger-delay-ms must not be negative");
    }
    newAnalyzer(analyzer).close(); // fail fast on an unknown analyzer
  }

  public static IngestConfig defaults() {
    return from(new Properties());
  }

  public static IngestConfig from(Properties p) {
    return new IngestConfig(
        intProp(p, "max-history", 1000),
        intProp(p, "max-field-chars", 20_000),
        p.getProperty(PREFIX + "analyzer", "standard"),
        Arrays.stream(p.getProperty(PREFIX + "variants", "plain").split(",")).map(String::trim)
            .filter(s -> !s.isEmpty()).toList(),
        intProp(p, "first-min-items", 10),
        intProp(p, "new-items-max", 50),
        intProp(p, "shift-min-items", 5),
        intProp(p, "shift-window", 20),
        Double.parseDouble(p.getProperty(PREFIX + "label-shift-threshold", "0.4")),
        Double.parseDouble(p.getProperty(PREFIX + "term-shift-threshold", "0.8")),
        Duration.parse(p.getProperty(PREFIX + "dedup-retention", "P7D")),
        intProp(p, "adapter-partitions", 0),
        intProp(p, "max-query-terms", 64),
        Boolean.parseBoolean(p.getProperty(PREFIX + "in-memory-stores", "false")),
        Duration.parse(p.getProperty(PREFIX + "deletion-fence", "P1D")),
        Double.parseDouble(p.getProperty(PREFIX + "regime-margin", "0.1")),
        InputLimits.from(p),
        UserProfiles.Given.NONE,
        Duration.ofMillis(Long.parseLong(p.getProperty(PREFIX + "trigger-delay-ms", "0").trim())));
  }

  public IngestConfig withMaxHistory(int n) {
    return new IngestConfig(n, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms, inMemoryStores, deletionFence, regimeMargin, limits, givenProfiles, triggerDelay);
  }

  public IngestConfig withVariants(List<String> v) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, v, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms, inMemoryStores, deletionFence, regimeMargin, limits, givenProfiles, triggerDelay);
  }

  public IngestConfig withTriggers(int firstMin, int newMax, int shiftMin, int window, double labelThreshold) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMin, newMax, shiftMin, window,
        labelThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms, inMemoryStores, deletionFence, regimeMargin, limits, givenProfiles, triggerDelay);
  }

  public IngestConfig withAdapterPartitions(int n) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, n, maxQueryTerms, inMemoryStores, deletionFence, regimeMargin, limits, givenProfiles, triggerDelay);
  }

  public IngestConfig withInMemoryStores(boolean m) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms, m, deletionFence, regimeMargin, limits, givenProfiles, triggerDelay);
  }

  public IngestConfig withLimits(InputLimits l) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms,
        inMemoryStores, deletionFence, regimeMargin, l, givenProfiles, triggerDelay);
  }

  public IngestConfig withTriggerDelay(Duration d) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms,
        inMemoryStores, deletionFence, regimeMargin, limits, givenProfiles, d);
  }

  /** The same configuration with these given profiles (null: none). */
  public IngestConfig withGivenProfiles(UserProfiles.Given g) {
    return new IngestConfig(maxHistory, maxFieldChars, analyzer, variants, firstMinItems, newItemsMax, shiftMinItems,
        shiftWindow, labelShiftThreshold, termShiftThreshold, dedupRetention, adapterPartitions, maxQueryTerms,
        inMemoryStores, deletionFence, regimeMargin, limits, g == null ? UserProfiles.Given.NONE : g, triggerDelay);
  }

  /**
   * Whether a shift scored {@code tvd} also ends the old behavior (older items are no longer replayed): clearly past
   * the shift threshold, against an old behavior known from at least {@code shiftMinItems} items.
   */
  public boolean endsOldBehavior(double tvd, boolean generation, long knownItems) {
    double threshold = generation ? termShiftThreshold : labelShiftThreshold;
    return tvd >= threshold + regimeMargin && knownItems >= shiftMinItems;
  }

  /** A new analyzer instance (thread-safe; one per processor is plenty). */
  public Analyzer newAnalyzer() {
    return newAnalyzer(analyzer);
  }

  static Analyzer newAnalyzer(String name) {
    switch (name) {
      case "standard":
        return new StandardAnalyzer(CharArraySet.EMPTY_SET);
      case "standard-stop":
        return new StandardAnalyzer(EnglishAnalyzer.ENGLISH_STOP_WORDS_SET);
      case "english":
        return new EnglishAnalyzer();
      default:
        try {
          return (Analyzer) Class.forName(name).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
          throw new IllegalArgumentException("unknown analyzer '" + name + "': " + e, e);
        }
    }
  }

  private static int intProp(Properties p, String name, int dflt) {
    return Integer.parseInt(p.getProperty(PREFIX + name, Integer.toString(dflt)).trim());
  }
}
