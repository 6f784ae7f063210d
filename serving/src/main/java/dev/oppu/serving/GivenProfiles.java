package dev.oppu.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.lamp.Task;
import dev.oppu.streams.UserProfiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * PAG profiles given as files, OPPU's form {@code [{"id": user_id, "output": profile_text}, ...]}, one file per task
 * ({@code oppu.serving.profiles.<task id>=FILE}). Users without a given profile get one built from their history.
 * {@link StreamsApp} hands the same instance to ingestion, whose pag train triggers carry the profile serving uses
 * ({@link UserProfiles}).
 */
public final class GivenProfiles implements UserProfiles.Given {
  public static final String PREFIX = "oppu.serving.profiles.";

  private final Map<Task, Map<String, String>> byTask = new EnumMap<>(Task.class);

  public static GivenProfiles none() {
    return new GivenProfiles();
  }

  /** Reads every {@code oppu.serving.profiles.<task>} file named in the properties. */
  public static GivenProfiles from(Properties p) throws IOException {
    GivenProfiles g = new GivenProfiles();
    for (String name : p.stringPropertyNames()) {
      if (name.startsWith(PREFIX)) {
        g.load(Task.of(name.substring(PREFIX.length())), Path.of(p.getProperty(name)));
      }
    }
    return g;
  }

  /** Adds the profiles of one task's file; a malformed file is a clear error naming the file. */
  public GivenProfiles load(Task task, Path file) throws IOException {
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    if (root == null || !root.isArray()) {
      throw new IOException(file + ": expected a JSON list of {\"id\": user_id, \"output\": profile}");
    }
    Map<String, String> m = byTask.computeIfAbsent(task, t -> new HashMap<>());
    for (JsonNode n : root) {
      if (!n.hasNonNull("id") || !n.hasNonNull("output")) {
        throw new IOException(file + ": an entry lacks \"id\" or \"output\": " + n);
      }
      m.put(n.get("id").asText(), n.get("output").asText());
    }
    return this;
  }

  public GivenProfiles put(Task task, String userId, String profile) {
    byTask.computeIfAbsent(task, t -> new HashMap<>()).put(userId, profile);
    return this;
  }

  /** The given profile of the user for the task, or null. */
  @Override
  public String profile(Task task, String userId) {
    Map<String, String> m = byTask.get(task);
    return m == null ? null : m.get(userId);
  }
}
