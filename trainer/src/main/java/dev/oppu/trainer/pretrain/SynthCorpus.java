package dev.oppu.trainer.pretrain;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pretraining corpus: the histories of the NON-evaluated users of every task's synthetic data, or of a given data
 * set (the evaluated users' text never reaches the base model). Each history item gives two documents: the item as
 * retrieval renders it, and its training example (prompt and answer), so the base knows the tasks' text and formats.
 */
public final class SynthCorpus {
  private SynthCorpus() {}

  public static List<String> documents(Synth.Params params) {
    Map<Task, List<UserData>> users = new LinkedHashMap<>();
    for (Task task : Task.values()) {
      SynthDataset data = Synth.generate(task, params);
      users.put(task, data.trainUsers());
    }
    return documents(users);
  }

  /**
   * The same two documents per history item for any data set's users, per task: {@code oppu pretrain --data} passes
   * the non-evaluated users of the user's own data, so the base knows that data's vocabulary.
   */
  public static List<String> documents(Map<Task, ? extends List<UserData>> usersByTask) {
    List<String> docs = new ArrayList<>();
    usersByTask.forEach((task, users) -> {
      for (UserData u : users) {
        for (HistoryItem item : u.profile()) {
          try {
            task.validateItem(item.fields());
          } catch (LampInputException e) {
            throw new LampInputException("user " + u.userId() + ", item " + item.id() + ": " + e.getMessage());
          }
          docs.add(task.renderItem(item.fields()).strip());
          Task.Example ex = task.trainingExample(item.fields());
          docs.add(ex.prompt() + " " + ex.answer());
        }
      }
    });
    return docs;
  }
}
