package dev.oppu.serving;

import dev.oppu.lamp.Task;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/** Test user data: histories per user; retrieval ranks by shared words (older item on ties); profiles are given. */
final class MapUserData implements UserData, UserData.Source {
  final Map<String, List<Item>> histories = new LinkedHashMap<>();
  final Map<String, String> profiles = new HashMap<>();
  final List<String> reads = new ArrayList<>();
  /** Trigger ids whose adapters are revoked (trained while their user was deleted). */
  final Set<String> revoked = new TreeSet<>();

  void add(String user, String id, Map<String, String> fields) {
    histories.computeIfAbsent(user, u -> new ArrayList<>()).add(new Item(id, fields));
  }

  @Override
  public List<Item> retrieve(String userId, Task task, String query, int k) {
    reads.add(userId);
    List<Item> items = new ArrayList<>(histories.getOrDefault(userId, List.of()));
    Set<String> q = words(query);
    List<Item> ranked = new ArrayList<>(items);
    ranked.sort((a, b) -> Integer.compare(overlap(b, task, q), overlap(a, task, q)));
    return ranked.subList(0, Math.min(k, ranked.size()));
  }

  @Override
  public boolean hasHistory(String userId, Task task) {
    reads.add(userId);
    return !histories.getOrDefault(userId, List.of()).isEmpty();
  }

  @Override
  public String profile(String userId, Task task) {
    reads.add(userId);
    return profiles.get(userId);
  }

  @Override
  public boolean adapterRevoked(String userId, String triggerId) {
    return revoked.contains(triggerId);
  }

  @Override
  public String[] storeNames() {
    return new String[0];
  }

  @Override
  public UserData open(ProcessorContext<?, ?> context) {
    return this;
  }

  private static int overlap(Item item, Task task, Set<String> q) {
    Set<String> w = words(item.fields().getOrDefault(task.inputField(), ""));
    w.retainAll(q);
    return w.size();
  }

  private static Set<String> words(String s) {
    Set<String> out = new TreeSet<>();
    for (String w : s.toLowerCase().split("[^a-z0-9]+")) {
      if (!w.isEmpty()) {
        out.add(w);
      }
    }
    return out;
  }
}
