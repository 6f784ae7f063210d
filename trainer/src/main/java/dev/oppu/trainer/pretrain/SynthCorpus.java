package dev.oppu.trainer.pretrain;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import java.util.ArrayList;
import java.util.List;

/**
 * The pretraining corpus: the histories of the NON-evaluated users of every task's synthetic data (the evaluated
 * users' text never reaches the base model). Each history item gives two documents: the item as retrieval renders
 * it, and its training example (prompt and answer), so the base knows the tasks' text and formats.
 */
public final class SynthCorpus {
  private SynthCorpus() {}

  public static List<String> documents(Synth.Params params) {
    List<String> docs = new ArrayList<>();
    for (Task task : Task.values()) {
      SynthDataset data = Synth.generate(task, params);
      for (UserData u : data.trainUsers()) {
        for (HistoryItem item : u.profile()) {
          docs.add(task.renderItem(item.fields()).strip());
          Task.Example ex = task.trainingExample(item.fields());
          docs.add(ex.prompt() + " " + ex.answer());
        }
      }
    }
    return docs;
  }
}
