package dev.oppu.cli;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampData;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * What LaMP data a command reads ({@code @Mixin DataOptions data}), the same on {@code replay}, {@code demo},
 * {@code adapt-task} and {@code pretrain}: a folder ({@code --data}) or one task's files ({@code --questions},
 * {@code --outputs}); {@link LampData} resolves either and says which users are evaluated.
 */
public final class DataOptions {

  @Option(names = "--data", paramLabel = "DIR",
      description = "Data folder: per task DIR/<task_name>/ or DIR/<LaMP id>/ with OPPU's processed files"
          + " (user_top_100_history.json + _label.json, user_others.json; or oppu synth's users.json,"
          + " users_labels.json, train_users.json) or LaMP's released files ({train,dev}_{questions,outputs}.json,"
          + " flat or in train/ and dev/); LaMP's LaMP_2/ folder serves movie tagging or news, whichever its"
          + " questions are. DIR may also be one task's folder.")
  Path data;

  @Option(names = "--questions", paramLabel = "FILE",
      description = "Instead of --data, one task's (--task) questions: LaMP's *_questions.json (user- or time-based"
          + " split) or OPPU's processed per-user file.")
  Path questions;

  @Option(names = "--outputs", paramLabel = "FILE",
      description = "With --questions: LaMP's *_outputs.json holding their golds.")
  Path outputs;

  @Option(names = "--most-active", paramLabel = "N", defaultValue = "" + LampData.OPPU_MOST_ACTIVE,
      description = "Time-based split (same users in train and dev): the N users with the most history items are"
          + " evaluated and the others adapt the task, OPPU's rule (default: ${DEFAULT-VALUE}, OPPU's).")
  int mostActive = LampData.OPPU_MOST_ACTIVE;

  /** True when the command was pointed at data (else it uses synthetic data, where it can). */
  public boolean given() {
    return data != null || questions != null;
  }

  public int mostActive() {
    return mostActive;
  }

  /**
   * The data for {@code tasks}. With {@code --data}: each task's folder; a task without data is an error when
   * {@code required}, else left out (no task at all is an error). With {@code --questions}: exactly one task.
   */
  public Map<Task, LampData.Source> sources(List<Task> tasks, boolean required) {
    if (data != null && questions != null) {
      throw new LampInputException("give either --data or --questions (with --outputs), not both");
    }
    if (outputs != null && questions == null) {
      throw new LampInputException("--outputs goes with --questions (with --data, the folder holds the outputs)");
    }
    if (mostActive < 1) {
      throw new LampInputException("--most-active must be at least 1, not " + mostActive);
    }
    if (questions != null) {
      if (tasks.size() != 1) {
        throw new LampInputException("--questions holds one task's data: name it with --task (not " + tasks.size()
            + " tasks)");
      }
      return Map.of(tasks.get(0), LampData.files(tasks.get(0), questions, outputs));
    }
    Map<Task, LampData.Source> found = LampData.folder(data, tasks, required);
    if (found.isEmpty()) {
      throw new LampInputException("no data for any of " + tasks.stream().map(Task::id).toList() + " under " + data
          + " (expected per task <task_name>/ or <LaMP id>/ folders; see --help)");
    }
    return found;
  }
}
