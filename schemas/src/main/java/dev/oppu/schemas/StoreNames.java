package dev.oppu.schemas;

import java.util.List;

/**
 * The one registry of state store names, beside {@link Topics}: every processor and tool takes store names from
 * here. Kafka Streams derives the internal topics from them: a logged store's changelog is
 * {@code <application id>-<store>-changelog}, the adapters repartition {@code <application id>-}{@value
 * #ADAPTERS_BY_USER}{@code -repartition}.
 */
public final class StoreNames {
  private StoreNames() {}

  // Ingestion.
  /** Logged: user|task|seq -> HistoryItem (single-object Avro). */
  public static final String HISTORY_STORE = "oppu-history";
  /** Logged: user|task -> retained seq range; the truth the index is reconciled against. */
  public static final String HISTORY_META_STORE = "oppu-history-meta";
  /** Unlogged: user|task|segment number -> index segment of 32 documents (rebuilt from the history on restore). */
  public static final String POSTINGS_STORE = "oppu-bm25-postings";
  /** Unlogged: user|task -> seq range, docCount, sumTotalTermFreq. */
  public static final String INDEX_STATS_STORE = "oppu-bm25-stats";
  /** Logged: user|task|variant -> pending trigger and the adapter's coverage. */
  public static final String TRAIN_STATE_STORE = "oppu-train-state";
  /**
   * Logged: user|eventId -> record time, for every event retained in the history (an entry leaves with its history
   * item, so the store is bounded by the histories; an entry older than the dedup retention no longer matches).
   */
  public static final String DEDUP_STORE = "oppu-dedup";
  /**
   * Logged: user -> deletion fence (the trigger ids of trainings pending when the user was deleted). Empty unless a
   * user was deleted while a training for them was under way.
   */
  public static final String USER_DELETIONS_STORE = "oppu-user-deletions";
  /**
   * Logged: user|task -> when its first and latest behavior not yet evaluated for triggers arrived. Empty unless
   * oppu.ingest.trigger-delay-ms is set.
   */
  public static final String TRIGGER_DUE_STORE = "oppu-trigger-due";

  // Serving.
  /** Logged: requests waiting for their micro-batch, so they survive a crash. */
  public static final String PENDING_STORE = "serving-pending-requests";
  /** Logged: latest adapter per {@code user|task|variant} of this partition's users. */
  public static final String ADAPTER_STORE = "serving-adapters";

  /** Every logged ingestion store, i.e. every store whose changelog topic holds user data keyed by user (prefix). */
  public static final List<String> INGEST_LOGGED_STORES =
      List.of(HISTORY_STORE, HISTORY_META_STORE, TRAIN_STATE_STORE, DEDUP_STORE, USER_DELETIONS_STORE);
  /** The stores a retrieving processor must be connected to. */
  public static final List<String> RETRIEVAL_STORES = List.of(POSTINGS_STORE, INDEX_STATS_STORE, HISTORY_STORE);

  /**
   * The one repartition of the application: adapter versions (keyed {@code user|task|variant}) partitioned by their
   * user, to meet the user's ingestion and serving stores.
   */
  public static final String ADAPTERS_BY_USER = "oppu-adapters-by-user";
}
