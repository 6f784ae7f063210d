package dev.oppu.evaluation.replay;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.Golds;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.data.UserData;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** Turns the lamp readers' model (LaMP's files or OPPU's processed form) into a replay dataset. */
public final class LampDatasets {

  private LampDatasets() {}

  /**
   * Reads a users file (LaMP questions or OPPU's processed form) and, when given, its outputs file; golds from the
   * outputs file override the ones inside the users file.
   */
  public static ReplayData.Dataset read(Task task, Path users, Path outputs) {
    List<UserData> data = LampFiles.readUsers(users);
    Golds golds = outputs == null ? null : LampFiles.readGolds(outputs);
    if (golds != null && golds.task() != null && !LampFiles.taskMatches(golds.task(), task)) {
      throw new LampInputException(outputs + ": outputs are for task " + golds.task() + ", not " + task.id());
    }
    return from(task, data, golds == null ? Map.of() : golds.outputs(), u -> true);
  }

  /**
   * Merges entries of the same user (LaMP's time-based questions repeat a user, each with its profile; items are
   * de-duplicated by id), validates each item for the task, and attaches golds by query id.
   */
  public static ReplayData.Dataset from(Task task, List<UserData> users, Map<String, String> golds,
      Predicate<String> keepUser) {
    Map<String, LinkedHashMap<String, ReplayData.Item>> items = new LinkedHashMap<>();
    Map<String, List<ReplayData.Query>> queries = new LinkedHashMap<>();
    for (UserData u : users) {
      if (!keepUser.test(u.userId())) {
        continue;
      }
      var hist = items.computeIfAbsent(u.userId(), k -> new LinkedHashMap<>());
      for (HistoryItem h : u.profile()) {
        try {
          task.validateItem(h.fields());
        } catch (LampInputException e) {
          throw new LampInputException("user " + u.userId() + ", item " + h.id() + ": " + e.getMessage());
        }
        hist.putIfAbsent(h.id(), new ReplayData.Item(h.id(), h.fields(), parseDate(h.date())));
      }
      var qs = queries.computeIfAbsent(u.userId(), k -> new ArrayList<>());
      for (var q : u.queries()) {
        task.extract(q.input()); // an input without its marker is bad input: fail here, clearly
        String gold = golds.getOrDefault(q.id(), q.gold());
        qs.add(new ReplayData.Query(q.id(), q.input(), gold));
      }
    }
    List<ReplayData.User> out = new ArrayList<>();
    for (var e : items.entrySet()) {
      out.add(new ReplayData.User(e.getKey(), new ArrayList<>(e.getValue().values()), queries.get(e.getKey())));
    }
    return new ReplayData.Dataset(task, out);
  }

  /** LaMP's dates come as ISO dates or date-times, or epoch seconds/millis; anything else means "no date". */
  static Long parseDate(String date) {
    if (date == null || date.isBlank()) {
      return null;
    }
    String s = date.trim();
    try {
      if (s.matches("-?\\d+")) {
        long v = Long.parseLong(s);
        return v < 100_000_000_000L ? v * 1000 : v; // seconds before ~5138 AD, else millis
      }
      if (s.length() == 10) {
        return LocalDate.parse(s).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
      }
      if (s.endsWith("Z")) {
        return Instant.parse(s).toEpochMilli();
      }
      try {
        return OffsetDateTime.parse(s).toInstant().toEpochMilli();
      } catch (DateTimeParseException e) {
        return LocalDateTime.parse(s.replace(' ', 'T')).toInstant(ZoneOffset.UTC).toEpochMilli();
      }
    } catch (DateTimeParseException | NumberFormatException e) {
      return null;
    }
  }
}
