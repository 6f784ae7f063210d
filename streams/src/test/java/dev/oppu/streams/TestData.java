package dev.oppu.streams;

import dev.oppu.schemas.Behavior;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Deterministic behaviors and texts for tests. */
final class TestData {
  private TestData() {}

  /** A Zipf-ish vocabulary: frequent words repeat (ties and high tf), rare words make idf matter. */
  static final List<String> VOCAB;

  static {
    List<String> v = new ArrayList<>();
    String[] base = {"the", "a", "of", "movie", "film", "story", "love", "war", "space", "robot", "crime", "heist",
        "family", "comedy", "dark", "future", "city", "hero", "book", "true", "ship", "alien", "king", "queen",
        "detective", "murder", "school", "music", "dream", "night"};
    for (String s : base) {
      v.add(s);
    }
    for (int i = 0; i < 200; i++) {
      v.add("w" + Integer.toString(i * 7919 % 1000, 36));
    }
    VOCAB = List.copyOf(v);
  }

  static String text(Random rnd, int minWords, int maxWords) {
    int n = minWords + rnd.nextInt(maxWords - minWords + 1);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      // Skewed pick: squares concentrate on the front of the vocabulary.
      double u = rnd.nextDouble();
      String w = VOCAB.get((int) (u * u * VOCAB.size()));
      if (rnd.nextInt(10) == 0) {
        w = Character.toUpperCase(w.charAt(0)) + w.substring(1);
      }
      sb.append(i == 0 ? "" : rnd.nextInt(12) == 0 ? ", " : " ").append(w);
    }
    return sb.append('.').toString();
  }

  static Behavior movie(String user, String eventId, String description, String tag) {
    return Behavior.newBuilder().setEventId(eventId).setUserId(user).setTask("LaMP_2M")
        .setEventTime(Instant.ofEpochMilli(1_000)).setItemId("item-" + eventId)
        .setFields(Map.of("description", description, "tag", tag)).build();
  }

  static Behavior of(String user, String eventId, String task, Map<String, String> fields) {
    return Behavior.newBuilder().setEventId(eventId).setUserId(user).setTask(task)
        .setEventTime(Instant.ofEpochMilli(1_000)).setFields(fields).build();
  }
}
