package dev.oppu.streams;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A user's PAG profile for a task, by the one rule ingestion and serving share: the given profile when one is
 * configured for the user (OPPU's profile files, {@code oppu.serving.profiles.<task>}), else the profile
 * {@link Profiles#fromHistory} builds from the user's retained history, oldest first. Ingestion puts it in the pag
 * variant's train triggers; serving's PAG prompts are built with it, so a pag adapter trains on the profile it is
 * served with.
 */
public final class UserProfiles {
  /** The adapter variant trained with the profile (OPPU+PAG). */
  public static final String PAG_VARIANT = "pag";

  /** Profiles given per (task, user); {@link #NONE} when no file is configured. */
  @FunctionalInterface
  public interface Given {
    Given NONE = (task, userId) -> null;

    /** The given profile of the user for the task, or null. */
    String profile(Task task, String userId);
  }

  private UserProfiles() {}

  /** The profile built from a user's retained history for the task (oldest first), when none is given. */
  public static String built(Task task, List<Map<String, String>> history) {
    return Profiles.fromHistory(task, history);
  }

  /** The given profile of the user, else the one built from {@code history} (read only when needed). */
  public static String of(Given given, Task task, String userId, Supplier<List<Map<String, String>>> history) {
    String g = given.profile(task, userId);
    return g != null ? g : built(task, history.get());
  }
}
