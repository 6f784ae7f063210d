package dev.oppu.lamp.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * What data a command was pointed at, for one task, and which of its users are evaluated and which are not: one
 * resolver shared by {@code replay}, {@code demo --data}, {@code adapt-task} and {@code pretrain}.
 *
 * <p>Accepted (SPEC section 2, "Where the data is"):
 * <ul>
 *   <li>a folder, {@code --data ROOT}; per task, {@code ROOT/<task_name>/} or {@code ROOT/<LaMP id>/} holding either
 *       OPPU's processed files ({@code user_top_100_history.json} + {@code user_top_100_history_label.json} and
 *       {@code user_others.json}, or the same roles as {@code oppu synth} names them: {@code users.json} +
 *       {@code users_labels.json} and {@code train_users.json}) or LaMP's released files
 *       ({@code train_questions.json}, {@code train_outputs.json}, {@code dev_questions.json},
 *       {@code dev_outputs.json}, flat or in LaMP's {@code train/} and {@code dev/} sub-folders). LaMP's downloads name
 *       movie tagging {@code LaMP_2} (its older release used that name for news categorization): {@code ROOT/LaMP_2/}
 *       serves LaMP_2M or LaMP_2N, whichever its questions are (by their input marker). {@code ROOT} may also be one
 *       task's folder itself when its questions are that task's. More than one place for a task is an error.</li>
 *   <li>explicit files, {@code --task T --questions F [--outputs G]}: LaMP's questions (either split) or OPPU's
 *       processed users.</li>
 * </ul>
 *
 * <p>Evaluated and non-evaluated users, as OPPU has them: OPPU's processed files name them (user_top_100_history vs
 * user_others). LaMP's user-based split has different users in train and dev: dev's questions are evaluated, train's
 * users adapt the task. LaMP's time-based split has the same users in train and dev: the {@code mostActive} users
 * with the most history items (distinct item ids over every file read; equal counts by user id) among those with a
 * dev question are evaluated on their dev questions, and every other user adapts the task ({@value #OPPU_MOST_ACTIVE}
 * in OPPU). Explicit files: a time-based questions file splits by the same rule; any other file's users are all
 * evaluated by {@code replay} and all adapt the task in {@code adapt-task} (point it at the train file).
 */
public final class LampData {

  /** OPPU evaluates the 100 users with the most history (its files are named {@code user_top_100_history}). */
  public static final int OPPU_MOST_ACTIVE = 100;

  /** OPPU's processed files, as its repository's {@code data/<task_name>/} holds them. */
  public static final String OPPU_USERS = "user_top_100_history.json";
  public static final String OPPU_LABELS = "user_top_100_history_label.json";
  public static final String OPPU_OTHERS = "user_others.json";

  /** LaMP's released files, per split folder. */
  public static final String TRAIN_QUESTIONS = "train_questions.json";
  public static final String TRAIN_OUTPUTS = "train_outputs.json";
  public static final String DEV_QUESTIONS = "dev_questions.json";
  public static final String DEV_OUTPUTS = "dev_outputs.json";

  /** How the data was laid out. */
  public enum Layout {
    /** OPPU's processed per-user files (or {@code oppu synth}'s). */
    PROCESSED,
    /** LaMP's released questions/outputs files in a folder. */
    LAMP,
    /** Explicit {@code --questions}/{@code --outputs} files. */
    FILES
  }

  /** Which users are whose. */
  public enum Split {
    /** Files already per user (OPPU's processed form): a file's users are evaluated or not by where they are. */
    PER_USER,
    /** LaMP's user-based split: one question per user, different users in train and dev. */
    USER_BASED,
    /** LaMP's time-based split: questions carry {@code user_id}, the same users are in train and dev. */
    TIME_BASED
  }

  private LampData() {}

  /**
   * One task's data.
   *
   * @param where the folder (or the questions file) the data was found in
   * @param questions the evaluated users' file (LaMP's dev questions, OPPU's user_top_100_history, or the explicit
   *     questions); null when the folder has none
   * @param outputs their golds in LaMP's outputs form; null when there are none
   * @param train the files the non-evaluated users come from (time-based: every questions file, the split is by user)
   */
  public record Source(Task task, Layout layout, Split split, Path where, Path questions, Path outputs,
      List<Path> train) {

    public Source {
      train = List.copyOf(train);
    }

    /**
     * The evaluated users, entries of one user merged (items by id), each query's gold from the outputs file where
     * it has one. Time-based: the {@code mostActive} most active users with a question in {@link #questions}.
     */
    public List<UserData> evaluated(int mostActive) {
      if (questions == null) {
        throw new LampInputException(task.id() + ": no evaluated users in " + where + " (expected "
            + (layout == Layout.LAMP ? DEV_QUESTIONS + " with " + DEV_OUTPUTS
                : Synth.USERS_FILE + " or " + OPPU_USERS) + ")");
      }
      Map<String, String> golds = golds();
      Predicate<String> keep = u -> true;
      if (split == Split.TIME_BASED) {
        Set<String> top = mostActive(mostActive);
        keep = top::contains;
      }
      List<UserData> out = new ArrayList<>();
      for (UserData u : merge(List.of(questions), keep, Integer.MAX_VALUE)) {
        out.add(LampFiles.withGolds(u, golds));
      }
      return out;
    }

    /**
     * The users that are not evaluated (their histories adapt the task and pretrain the base), at most {@code max}
     * of them in file order. Throws a clear error when there are none.
     */
    public List<UserData> nonEvaluated(int mostActive, int max) {
      if (train.isEmpty()) {
        throw new LampInputException(task.id() + ": no non-evaluated users in " + where + " (expected "
            + (layout == Layout.LAMP ? TRAIN_QUESTIONS : Synth.TRAIN_USERS_FILE + " or " + OPPU_OTHERS) + ")");
      }
      List<UserData> out;
      if (split == Split.TIME_BASED) {
        Set<String> top = mostActive(mostActive);
        out = merge(train, u -> !top.contains(u), Integer.MAX_VALUE);
        if (out.isEmpty()) {
          throw new LampInputException(task.id() + ": time-based split in " + where + ": all " + top.size()
              + " users are among the " + mostActive + " most active, whom OPPU evaluates; none is left to adapt"
              + " the task on (lower --most-active)");
        }
        if (out.size() > max) {
          out = out.subList(0, max);
        }
      } else {
        out = merge(train, u -> true, max);
        if (out.isEmpty()) {
          throw new LampInputException(task.id() + ": " + train + " holds no users");
        }
      }
      return out;
    }

    /**
     * True when the evaluated and the non-evaluated users would be the same: explicit files outside a time-based
     * split (replay evaluates all of them, adapt-task trains on all of them). Then a command that does both, like
     * {@code demo}, must not adapt the task on them.
     */
    public boolean sameUsers() {
      return layout == Layout.FILES && split != Split.TIME_BASED;
    }

    /** The ids of the {@code n} most active users with a question in {@link #questions} (time-based rule). */
    public Set<String> mostActive(int n) {
      if (n < 1) {
        throw new LampInputException("--most-active must be at least 1, not " + n);
      }
      Map<String, Set<String>> items = new HashMap<>();
      Set<Path> files = new LinkedHashSet<>(train);
      if (questions != null) {
        files.add(questions);
      }
      for (Path f : files) {
        try (LampFiles.UserReader r = LampFiles.openUsers(f)) {
          while (r.hasNext()) {
            UserData u = r.next();
            Set<String> s = items.computeIfAbsent(u.userId(), k -> new HashSet<>());
            u.profile().forEach(h -> s.add(h.id()));
          }
        }
      }
      List<String> candidates = new ArrayList<>();
      if (questions != null) {
        Set<String> seen = new HashSet<>();
        try (LampFiles.UserReader r = LampFiles.openUsers(questions)) {
          while (r.hasNext()) {
            String id = r.next().userId();
            if (seen.add(id)) {
              candidates.add(id);
            }
          }
        }
      } else {
        candidates.addAll(items.keySet());
      }
      candidates.sort(Comparator.comparingInt((String u) -> -items.get(u).size()).thenComparing(u -> u));
      return new LinkedHashSet<>(candidates.subList(0, Math.min(n, candidates.size())));
    }

    /** The golds of {@link #outputs} (empty without one); a file for another task is an error. */
    public Map<String, String> golds() {
      if (outputs == null) {
        return Map.of();
      }
      Golds g = LampFiles.readGolds(outputs);
      if (!LampFiles.taskMatches(g.task(), task)) {
        throw new LampInputException(outputs + ": outputs are for task " + g.task() + ", not " + task.id());
      }
      return g.outputs();
    }

    /** One line for the console: where the data is, its form and split. */
    public String describe(int mostActive) {
      String form = switch (layout) {
        case PROCESSED -> "OPPU's processed files in " + where;
        case LAMP -> "LaMP's files in " + where;
        case FILES -> "questions " + questions + (outputs != null ? ", outputs " + outputs : "");
      };
      String split = switch (this.split) {
        case PER_USER -> "";
        case USER_BASED -> " (user-based split" + (layout == Layout.LAMP ? ": dev users evaluated, train users"
            + " adapt the task)" : ")");
        case TIME_BASED -> " (time-based split: the " + mostActive + " most active users evaluated, the others"
            + " adapt the task)";
      };
      return task.id() + ": " + form + split;
    }
  }

  /**
   * Each task's data under {@code root}. With {@code required}, a task without data is an error naming where it was
   * looked for; otherwise it is left out (and an empty result is the caller's to report).
   */
  public static Map<Task, Source> folder(Path root, List<Task> tasks, boolean required) {
    if (!Files.isDirectory(root)) {
      throw new LampInputException(root + ": no such folder");
    }
    Map<Task, Source> out = new LinkedHashMap<>();
    for (Task t : tasks) {
      Optional<Source> s = find(root, t);
      if (s.isPresent()) {
        out.put(t, s.get());
      } else if (required) {
        throw new LampInputException(notFound(root, t));
      }
    }
    return out;
  }

  /** One task's data under {@code root}, if there is any; data in more than one place is an error. */
  public static Optional<Source> find(Path root, Task task) {
    List<Source> found = new ArrayList<>();
    for (Path dir : List.of(root.resolve(task.taskName()), root.resolve(task.id()))) {
      Source s = inFolder(dir, task, false);
      if (s != null) {
        found.add(s);
      }
    }
    if (task == Task.MOVIE_TAGGING || task == Task.NEWS_CATEGORIZE) {
      Source s = inFolder(root.resolve("LaMP_2"), task, true);
      if (s != null) {
        found.add(s);
      }
    }
    if (found.isEmpty()) {
      Source s = inFolder(root, task, true);
      if (s != null) {
        found.add(s);
      }
    }
    if (found.size() > 1) {
      throw new LampInputException(task.id() + ": data in more than one place: " + found.stream()
          .map(s -> s.where().toString()).collect(Collectors.joining(" and ")) + "; point --data at one of them, or"
          + " give --task with --questions and --outputs");
    }
    return found.stream().findFirst();
  }

  /** Explicit files: LaMP's questions (either split) or OPPU's processed users, and optionally their golds. */
  public static Source files(Task task, Path questions, Path outputs) {
    if (!Files.isRegularFile(questions)) {
      throw new LampInputException(questions + ": no such file");
    }
    if (outputs != null && !Files.isRegularFile(outputs)) {
      throw new LampInputException(outputs + ": no such file");
    }
    JsonNode first = LampFiles.firstElement(questions);
    Split split = first == null || first.has("query") ? Split.PER_USER
        : first.has("user_id") ? Split.TIME_BASED : Split.USER_BASED;
    return new Source(task, Layout.FILES, split, questions, questions, outputs, List.of(questions));
  }

  static String notFound(Path root, Task task) {
    String movieOrNews = task == Task.MOVIE_TAGGING ? "movie tagging" : "news categorization";
    return task.id() + ": no data under " + root + ": looked for " + root.resolve(task.taskName()) + "/ and "
        + root.resolve(task.id()) + "/"
        + (task == Task.MOVIE_TAGGING || task == Task.NEWS_CATEGORIZE
            ? " and " + root.resolve("LaMP_2") + "/ holding " + movieOrNews + " questions" : "")
        + ", with OPPU's processed files (" + OPPU_USERS + ", " + OPPU_LABELS + ", " + OPPU_OTHERS + "; or "
        + Synth.USERS_FILE + ", " + Synth.LABELS_FILE + ", " + Synth.TRAIN_USERS_FILE + ") or LaMP's ("
        + TRAIN_QUESTIONS + ", " + DEV_QUESTIONS + ", " + DEV_OUTPUTS + ", flat or in train/ and dev/); or give"
        + " --questions and --outputs";
  }

  /**
   * The task's data directly in {@code dir}, or null when it holds none. With {@code sniff} the folder's name does
   * not say the task: its first question must be the task's (its input has the task's marker).
   */
  static Source inFolder(Path dir, Task task, boolean sniff) {
    if (!Files.isDirectory(dir)) {
      return null;
    }
    Path users = one(dir, Synth.USERS_FILE, OPPU_USERS);
    Path labels = one(dir, Synth.LABELS_FILE, OPPU_LABELS);
    Path others = one(dir, Synth.TRAIN_USERS_FILE, OPPU_OTHERS);
    Path trainQ = one(dir, TRAIN_QUESTIONS, "train/" + TRAIN_QUESTIONS);
    Path devQ = one(dir, DEV_QUESTIONS, "dev/" + DEV_QUESTIONS);
    Path devO = one(dir, DEV_OUTPUTS, "dev/" + DEV_OUTPUTS);
    boolean processed = users != null || others != null;
    boolean lamp = trainQ != null || devQ != null;
    if (!processed && !lamp) {
      return null;
    }
    if (processed && lamp) {
      throw new LampInputException(dir + " holds both OPPU's processed files and LaMP's questions files; give"
          + " --task with --questions and --outputs");
    }
    Path probe = processed ? (users != null ? users : others) : (devQ != null ? devQ : trainQ);
    JsonNode first = LampFiles.firstElement(probe);
    if (sniff && !isTask(first, task)) {
      return null;
    }
    if (processed) {
      return new Source(task, Layout.PROCESSED, Split.PER_USER, dir, users, labels,
          others == null ? List.of() : List.of(others));
    }
    Split split = first != null && first.has("user_id") ? Split.TIME_BASED : Split.USER_BASED;
    List<Path> train = new ArrayList<>();
    if (trainQ != null) {
      train.add(trainQ);
    }
    if (split == Split.TIME_BASED && devQ != null) {
      train.add(devQ);
    }
    if (devQ != null && devO == null) {
      throw new LampInputException(dir + ": " + DEV_QUESTIONS + " without " + DEV_OUTPUTS + " (its golds)");
    }
    return new Source(task, Layout.LAMP, split, dir, devQ, devO, train);
  }

  /** The one of {@code names} that is a file in {@code dir}; null if none; two of them is an error. */
  private static Path one(Path dir, String... names) {
    Path found = null;
    for (String n : names) {
      Path p = dir.resolve(n);
      if (Files.isRegularFile(p)) {
        if (found != null) {
          throw new LampInputException(dir + " holds both " + found.getFileName() + " and " + n
              + "; which one is meant? Give --task with --questions and --outputs");
        }
        found = p;
      }
    }
    return found;
  }

  /** True if a first entry (LaMP question or OPPU user) asks a question of {@code task}. */
  private static boolean isTask(JsonNode first, Task task) {
    if (first == null) {
      return false;
    }
    JsonNode input = first.path("input");
    if (input.isMissingNode() && first.path("query").isArray() && first.path("query").size() > 0) {
      input = first.path("query").get(0).path("input");
    }
    if (!input.isTextual()) {
      return false;
    }
    try {
      task.extract(input.asText());
      return true;
    } catch (LampInputException e) {
      return false;
    }
  }

  /**
   * The users of {@code files} whose id passes {@code keep}, entries of the same user merged (items de-duplicated by
   * id, queries by id), in order of first appearance; reading stops once {@code max} users are complete, unless a
   * user can appear again (it can only in time-based files, which are read whole).
   */
  static List<UserData> merge(List<Path> files, Predicate<String> keep, int max) {
    Map<String, LinkedHashMap<String, HistoryItem>> items = new LinkedHashMap<>();
    Map<String, LinkedHashMap<String, Query>> queries = new LinkedHashMap<>();
    outer:
    for (Path f : files) {
      try (LampFiles.UserReader r = LampFiles.openUsers(f)) {
        while (r.hasNext()) {
          UserData u = r.next();
          if (!keep.test(u.userId())) {
            continue;
          }
          if (!items.containsKey(u.userId()) && items.size() >= max) {
            break outer;
          }
          var h = items.computeIfAbsent(u.userId(), k -> new LinkedHashMap<>());
          u.profile().forEach(it -> h.putIfAbsent(it.id(), it));
          var q = queries.computeIfAbsent(u.userId(), k -> new LinkedHashMap<>());
          u.queries().forEach(x -> q.putIfAbsent(x.id(), x));
        }
      }
    }
    List<UserData> out = new ArrayList<>();
    items.forEach((id, h) -> out.add(new UserData(id, new ArrayList<>(h.values()),
        new ArrayList<>(queries.get(id).values()))));
    return out;
  }
}
