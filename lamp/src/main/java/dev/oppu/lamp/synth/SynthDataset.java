package dev.oppu.lamp.synth;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.Golds;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.metrics.LampMetrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One task's synthetic data: evaluated users (queries carry their gold in memory; the users file on disk does not),
 * non-evaluated users, and the ground truth.
 */
public record SynthDataset(Task task, Synth.Params params, List<UserData> users, List<UserData> trainUsers,
    List<UserTruth> userTruth, List<QueryTruth> queryTruth) {

  /**
   * A user's latent preference ({@code preference}: task-specific, see {@link Synth}); with a shift, the index of the
   * first post-shift history item, its date and the new preference ({@code shiftIndex} -1 and nulls otherwise).
   */
  public record UserTruth(String userId, boolean evaluated, String activity, int historySize,
      Map<String, Object> preference, int shiftIndex, String shiftDate, Map<String, Object> preferenceAfterShift) {}

  /**
   * An evaluated query: its gold (the personal answer, after label noise), the crowd's answer, the user's noise-free
   * current answer, with a shift the answer the user's pre-shift preference gives (null otherwise), and the answer the
   * user's own labelled history gives a learner that recognises every item's kind ({@code history}; null where the
   * task has no such estimate; with a shift, from the post-shift items).
   */
  public record QueryTruth(String id, String userId, String gold, String crowd, String personal, String preShift,
      String history) {}

  /** The evaluated queries' golds, in LaMP's outputs form. */
  public Golds golds() {
    return answers(QueryTruth::gold);
  }

  /** Predictions made of one truth column (crowd, personal, preShift), in LaMP's outputs form. */
  public Golds answers(Function<QueryTruth, String> column) {
    Map<String, String> m = new LinkedHashMap<>();
    for (QueryTruth q : queryTruth) {
      m.put(q.id(), column.apply(q));
    }
    return new Golds(task.id(), m);
  }

  /** True when the task has a history answer ({@link QueryTruth#history}) for its queries. */
  public boolean hasHistory() {
    return !queryTruth.isEmpty() && queryTruth.stream().allMatch(q -> q.history() != null);
  }

  /** The metrics of the truth columns against the golds: what always answering the crowd's or the user's gives. */
  public Map<String, Map<String, Double>> ceilings() {
    Map<String, Map<String, Double>> out = new LinkedHashMap<>();
    Map<String, String> golds = golds().outputs();
    out.put("crowd", LampMetrics.evaluate(task, golds, answers(QueryTruth::crowd).outputs()));
    out.put("personal", LampMetrics.evaluate(task, golds, answers(QueryTruth::personal).outputs()));
    if (params.shift()) {
      out.put("pre_shift", LampMetrics.evaluate(task, golds, answers(QueryTruth::preShift).outputs()));
    }
    if (hasHistory()) {
      out.put("history", LampMetrics.evaluate(task, golds, answers(QueryTruth::history).outputs()));
    }
    return out;
  }

  /**
   * Writes {@code dir/<task_name>/}: {@value Synth#USERS_FILE} (evaluated users, OPPU's processed form, queries
   * without gold), {@value Synth#LABELS_FILE} (their golds), {@value Synth#TRAIN_USERS_FILE} (non-evaluated users,
   * gold inline), {@value Synth#TRUTH_FILE}, and {@value Synth#CROWD_PREDS_FILE}, {@value Synth#PERSONAL_PREDS_FILE}
   * (and {@value Synth#PRE_SHIFT_PREDS_FILE} with a shift) as predictions files for {@code oppu eval}.
   *
   * @return the task's directory
   */
  public Path write(Path dir) {
    return write(dir, false);
  }

  /**
   * As {@link #write(Path)}; with {@code lampForm} also the evaluated users in LaMP's own form:
   * {@value Synth#LAMP_QUESTIONS_FILE} (one entry per query, carrying user_id and the dated profile, like LaMP's
   * time-based split) and {@value Synth#LAMP_OUTPUTS_FILE} (the golds).
   */
  public Path write(Path dir, boolean lampForm) {
    Path d = dir.resolve(task.taskName());
    List<UserData> noGold = new ArrayList<>();
    for (UserData u : users) {
      List<Query> qs = new ArrayList<>();
      for (Query q : u.queries()) {
        qs.add(q.withGold(null));
      }
      noGold.add(new UserData(u.userId(), u.profile(), qs));
    }
    LampFiles.writeUsers(d.resolve(Synth.USERS_FILE), LampFiles.UserFormat.OPPU, noGold);
    if (lampForm) {
      LampFiles.writeUsers(d.resolve(Synth.LAMP_QUESTIONS_FILE), LampFiles.UserFormat.LAMP_QUESTIONS, noGold);
      LampFiles.writeGolds(d.resolve(Synth.LAMP_OUTPUTS_FILE), golds());
    }
    LampFiles.writeGolds(d.resolve(Synth.LABELS_FILE), golds());
    LampFiles.writeUsers(d.resolve(Synth.TRAIN_USERS_FILE), LampFiles.UserFormat.OPPU, trainUsers);
    LampFiles.writeGolds(d.resolve(Synth.CROWD_PREDS_FILE), answers(QueryTruth::crowd));
    LampFiles.writeGolds(d.resolve(Synth.PERSONAL_PREDS_FILE), answers(QueryTruth::personal));
    if (params.shift()) {
      LampFiles.writeGolds(d.resolve(Synth.PRE_SHIFT_PREDS_FILE), answers(QueryTruth::preShift));
    }
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = json.createObjectNode();
    root.put("task", task.id());
    root.set("params", json.valueToTree(params));
    root.set("ceilings", json.valueToTree(ceilings()));
    ArrayNode us = root.putArray("users");
    for (UserTruth u : userTruth) {
      ObjectNode n = us.addObject();
      n.put("user_id", u.userId());
      n.put("evaluated", u.evaluated());
      n.put("activity", u.activity());
      n.put("history_size", u.historySize());
      n.set("preference", json.valueToTree(u.preference()));
      if (u.shiftIndex() >= 0) {
        ObjectNode s = n.putObject("shift");
        s.put("index", u.shiftIndex());
        s.put("date", u.shiftDate());
        s.set("preference", json.valueToTree(u.preferenceAfterShift()));
      }
    }
    ArrayNode qs = root.putArray("queries");
    for (QueryTruth q : queryTruth) {
      ObjectNode n = qs.addObject();
      n.put("id", q.id());
      n.put("user_id", q.userId());
      n.put("gold", q.gold());
      n.put("crowd", q.crowd());
      n.put("personal", q.personal());
      if (q.preShift() != null) {
        n.put("pre_shift", q.preShift());
      }
      if (q.history() != null) {
        n.put("history", q.history());
      }
    }
    try {
      Files.createDirectories(d);
      json.writeValue(d.resolve(Synth.TRUTH_FILE).toFile(), root);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d;
  }
}
