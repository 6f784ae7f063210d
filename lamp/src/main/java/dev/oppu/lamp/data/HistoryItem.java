package dev.oppu.lamp.data;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One item of a user's history (LaMP's "profile" entry): its id, its date where the file gives one (LaMP's
 * time-based split, synthetic data), and the task's fields ({@code description, tag}, {@code text, score}, ...), which
 * is what {@link dev.oppu.lamp.Task#renderItem} and {@link dev.oppu.lamp.Task#trainingExample} take.
 */
public record HistoryItem(String id, String date, Map<String, String> fields) {

  public HistoryItem {
    if (id == null) {
      throw new IllegalArgumentException("history item without id");
    }
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
  }

  /** The field, or null. */
  public String get(String field) {
    return fields.get(field);
  }
}
