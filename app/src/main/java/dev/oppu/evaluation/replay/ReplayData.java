package dev.oppu.evaluation.replay;

import dev.oppu.lamp.Task;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * What a replay sends: per task, the users whose history becomes behavior events and whose queries become requests.
 * Built from the lamp readers' model (see {@link LampDatasets}); independent of the file format it came from.
 */
public final class ReplayData {

  private ReplayData() {}

  /** One task's replayed users (evaluated users only: their queries are asked and their adapters awaited). */
  public record Dataset(Task task, List<User> users) {
    public Dataset {
      users = List.copyOf(users);
    }

    public int queryCount() {
      return users.stream().mapToInt(u -> u.queries().size()).sum();
    }

    public int itemCount() {
      return users.stream().mapToInt(u -> u.history().size()).sum();
    }
  }

  /** A user: history items (published as behaviors) and queries (sent as requests, one per mode). */
  public record User(String id, List<Item> history, List<Query> queries) {
    public User {
      history = List.copyOf(history);
      queries = List.copyOf(queries);
    }

    /** The history in time order: by date where items carry one, else file order (a stable sort keeps ties in it). */
    public List<Item> inTimeOrder() {
      List<Item> out = new ArrayList<>(history);
      if (out.stream().allMatch(i -> i.dateMillis() != null)) {
        out.sort(Comparator.comparingLong(Item::dateMillis));
      }
      return out;
    }
  }

  /** A history item: LaMP's fields for the task, its id, and its date in epoch millis (null when LaMP has none). */
  public record Item(String id, Map<String, String> fields, Long dateMillis) {
    public Item {
      fields = Map.copyOf(fields);
    }
  }

  /** A query: LaMP's input (with its task marker) and the gold output (null when only questions were given). */
  public record Query(String id, String input, String gold) {}
}
