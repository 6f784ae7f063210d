package dev.oppu.cli.demo;

import dev.oppu.cli.replay.ReplayData;
import java.util.ArrayList;
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
}
