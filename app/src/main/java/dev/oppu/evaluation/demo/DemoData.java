package dev.oppu.evaluation.demo;

import dev.oppu.evaluation.replay.LampDatasets;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.SynthDataset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A demo's data per task: the evaluated users (histories in time order, queries with golds) and the synthetic
 * ground truth beside them.
 *
 * @param steady users without a planted shift: the main table is measured on them
 * @param shifted users with a planted shift; their queries ask for the post-shift preference
 * @param shiftIndex user id -> index in the user's time-ordered history of the first post-shift item
 * @param crowdAnswer query id -> the crowd's majority answer (a ceiling for a non-personalized model)
 * @param trueAnswer query id -> the answer of the user's true (current) preference
 * @param preShiftAnswer query id -> for shifted users' queries, the answer their pre-shift preference gives
 */
public record DemoData(ReplayData.Dataset steady, ReplayData.Dataset shifted, Map<String, Integer> shiftIndex,
    Map<String, String> crowdAnswer, Map<String, String> trueAnswer, Map<String, String> preShiftAnswer) {

  /** A shifted user's pre-shift part and its post-shift items, in time order. */
  public record Split(ReplayData.User pre, List<ReplayData.Item> post) {}

  public Split split(ReplayData.User u) {
    List<ReplayData.Item> items = u.inTimeOrder();
    int at = Math.min(shiftIndex.getOrDefault(u.id(), items.size()), items.size());
    return new Split(new ReplayData.User(u.id(), items.subList(0, at), u.queries()),
        new ArrayList<>(items.subList(at, items.size())));
  }

  /**
   * From synthetic data sets: {@code steady} without shift (may be null), {@code shifted} with a planted shift (may
   * be null), same task. Ids get a prefix so several tasks and both sets share one replay without clashing (request
   * ids are query id + mode).
   */
  public static DemoData fromSynth(SynthDataset steady, String steadyPrefix, SynthDataset shifted,
      String shiftedPrefix) {
    Map<String, String> crowd = new HashMap<>();
    Map<String, String> truth = new HashMap<>();
    Map<String, String> pre = new HashMap<>();
    Map<String, Integer> shiftIndex = new HashMap<>();
    ReplayData.Dataset a = null;
    ReplayData.Dataset b = null;
    if (steady != null) {
      a = convert(steady, steadyPrefix, crowd, truth, pre, shiftIndex);
    }
    if (shifted != null) {
      b = convert(shifted, shiftedPrefix, crowd, truth, pre, shiftIndex);
    }
    return new DemoData(a, b, shiftIndex, crowd, truth, pre);
  }

  /** The users of a synthetic set with prefixed ids, as the lamp model (for writing LaMP files). */
  public static List<UserData> renamed(List<UserData> users, String prefix) {
    List<UserData> out = new ArrayList<>();
    for (UserData u : users) {
      List<HistoryItem> items = new ArrayList<>();
      for (HistoryItem h : u.profile()) {
        items.add(new HistoryItem(prefix + h.id(), h.date(), h.fields()));
      }
      List<Query> qs = new ArrayList<>();
      for (Query q : u.queries()) {
        qs.add(new Query(prefix + q.id(), q.input(), q.gold()));
      }
      out.add(new UserData(prefix + u.userId(), items, qs));
    }
    return out;
  }

  private static ReplayData.Dataset convert(SynthDataset s, String prefix, Map<String, String> crowd,
      Map<String, String> truth, Map<String, String> pre, Map<String, Integer> shiftIndex) {
    Map<String, String> golds = new HashMap<>();
    for (SynthDataset.QueryTruth q : s.queryTruth()) {
      golds.put(prefix + q.id(), q.gold());
      crowd.put(prefix + q.id(), q.crowd());
      truth.put(prefix + q.id(), q.personal());
      if (q.preShift() != null) {
        pre.put(prefix + q.id(), q.preShift());
      }
    }
    for (SynthDataset.UserTruth u : s.userTruth()) {
      if (u.shiftIndex() >= 0) {
        shiftIndex.put(prefix + u.userId(), u.shiftIndex());
      }
    }
    return LampDatasets.from(s.task(), renamed(s.users(), prefix), golds, id -> true);
  }
}
