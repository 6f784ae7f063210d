package dev.oppu.cli;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampData;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.TextTokenizer;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.TaskAdaptation;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code oppu adapt-task}: OPPU step 1, a task LoRA per task on the non-evaluated users' histories. */
@Command(name = "adapt-task", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train a task LoRA (OPPU step 1) per task on the histories of the NON-evaluated users, saved in PEFT"
        + " layout as OUT/<LaMP id>/; the trainer and serving merge it into the base model.",
        "The users are those a data set does not evaluate: --data DIR (OPPU's user_others.json or synth's"
            + " train_users.json; LaMP's files: train_questions.json's users in a user-based split, in a time-based split"
            + " every user but the --most-active N evaluated ones) or --task T --questions F [--outputs G]; without"
            + " either, synthetic data generated in memory with the synth defaults. With --task all and --data, the"
            + " tasks the folder has."})
public final class TaskAdaptCommand implements Callable<Integer> {

  /** The base model; its --task-adapters folder is where the adapters are written (unless --out). */
  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  @Option(names = "--task", defaultValue = "all", description = "LaMP_1 ... LaMP_7, a task name, or all (default)")
  String task;

  @Mixin
  DataOptions data = new DataOptions();

  @Option(names = "--out", description = "task adapter root (default: --task-adapters, else MODEL/task-adapters)")
  Path out;

  @Option(names = "--k", defaultValue = "0", description = "retrieved items per example, OPPU's --k (default 0)")
  int k;

  @Option(names = "--add-profile", description = "prepend the user's profile, OPPU's --add_profile")
  boolean addProfile;

  @Mixin
  AdapterTrainingOptions training;

  @Option(names = "--mixed", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "each item trains one example, rotating plain / k retrieved (k >= 1) / profile prompts, so one"
          + " task model serves all six modes (default; --no-mixed: OPPU's one form, set by --k and --add-profile)")
  boolean mixed;

  @Option(names = "--max-users", description = "use at most this many non-evaluated users per task")
  Integer maxUsers;

  @Override
  public Integer call() throws Exception {
    device.check();
    Path base = model.model();
    Path root = out != null ? out : model.taskAdapters() != null ? model.taskAdapters()
        : base.resolve(dev.oppu.system.OppuSystem.TASK_ADAPTERS);
    boolean all = task.equalsIgnoreCase("all");
    List<Task> tasks = Task.list(task);
    Map<Task, LampData.Source> sources = data.given() ? data.sources(tasks, !all) : null;
    if (sources != null) {
      tasks = List.copyOf(sources.keySet());
      sources.values().forEach(s -> System.out.println(s.describe(data.mostActive())));
    }
    TaskAdaptation.Config d = TrainerDefaults.task(k, addProfile);
    TaskAdaptation.Config cfg = new TaskAdaptation.Config(training.lora(d.lora()), training.training(d.training()),
        k, addProfile, d.maxTokens(), d.retrievedWords(), d.seed(), mixed);
    try (NDManager manager = NDManager.newBaseManager(device.djlDevice())) {
      LlamaModel model = LlamaModel.load(base, manager);
      try (TextTokenizer tok = TextTokenizer.load(base, model.config())) {
        ModelTokenEncoder enc = new ModelTokenEncoder(tok);
        LlamaLoraLm lm = new LlamaLoraLm(model);
        for (Task t : tasks) {
          List<UserData> users = users(t, sources);
          ProgressBar[] pb = new ProgressBar[1];
          try {
            TaskAdaptation.Report r = TaskAdaptation.run(lm, enc, t, users, cfg, root, (step, total, loss) -> {
              if (pb[0] == null) {
                pb[0] = new ProgressBarBuilder().setTaskName("adapt " + t.id()).setInitialMax(total)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).build();
              }
              pb[0].step();
              pb[0].setExtraMessage(String.format(Locale.ROOT, "loss %.3f", loss));
            });
            if (pb[0] != null) {
              pb[0].close();
            }
            System.out.println(JsonOut.object().put("task", t.id()).put("dir", r.dir().toString())
                .put("users", r.users()).put("examples", r.examples())
                .put("loss_before", r.training().lossBefore(), 4).put("loss_after", r.training().lossAfter(), 4)
                .put("seconds", r.training().millis() / 1000.0, 1));
          } finally {
            if (pb[0] != null) {
              pb[0].close();
            }
          }
        }
      }
    }
    return 0;
  }

  /** The task's non-evaluated users: from the data pointed at, else synthetic; at most --max-users. */
  private List<UserData> users(Task t, Map<Task, LampData.Source> sources) {
    int max = maxUsers != null ? maxUsers : Integer.MAX_VALUE;
    if (sources != null) {
      return sources.get(t).nonEvaluated(data.mostActive(), max);
    }
    List<UserData> users = Synth.generate(t, Synth.Params.defaults()).trainUsers();
    return users.size() > max ? users.subList(0, max) : users;
  }
}
