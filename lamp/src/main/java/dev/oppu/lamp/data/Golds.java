package dev.oppu.lamp.data;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LaMP's outputs form, {@code {"task": "LaMP_k", "golds": [{"id", "output"}]}}: gold labels, and predictions too
 * (LaMP's prediction files use the same form). {@code task} is the file's own string, which may be an id we do not
 * know (LaMP's older files say {@code LaMP_2}).
 */
public record Golds(String task, Map<String, String> outputs) {

  public Golds {
    outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
  }
}
