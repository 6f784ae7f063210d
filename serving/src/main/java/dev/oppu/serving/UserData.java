package dev.oppu.serving;

import dev.oppu.lamp.Task;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/**
 * What serving reads about one user from the local stores of its partition: retrieval over the user's history and the
 * user's profile. Every method takes the user id of the request being served and reads that user's data only.
 */
public interface UserData {

  /** A retrieved history item: its id (LaMP item id, else event id) and its LaMP fields. */
  record Item(String id, Map<String, String> fields) {}

  /** The user's top-k history items of the task for the query, best first (BM25, ties to the older item). */
  List<Item> retrieve(String userId, Task task, String query, int k);

  /** Whether the user has any history for the task. */
  boolean hasHistory(String userId, Task task);

  /** The user's profile text for the task (a given profile, else one built from the history), or null if none. */
  String profile(String userId, Task task);

  /**
   * Whether the user's adapter trained for {@code triggerId} must not be used: the user was deleted while that
   * training ran, and its adapter is about to be tombstoned.
   */
  default boolean adapterRevoked(String userId, String triggerId) {
    return false;
  }

  /** Drops whatever this reader caches about the user (their data was deleted). */
  default void forget(String userId) {}

  /** Opens {@link UserData} over the stores of a stream task. */
  interface Source {
    /** The stores the serving processor must be connected to. */
    String[] storeNames();

    /** Called from the processor's init: fetch the stores from the context. */
    UserData open(ProcessorContext<?, ?> context);
  }
}
