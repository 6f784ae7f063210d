package dev.oppu.bench;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.TaskModels;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.Variant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench train-many}: users/s of first-version user updates (the trainer's whole update: examples, losses,
 * training, held-out validation; {@link TrainerDefaults#user()}) for N users of M new items each, one at a time
 * ({@link UserAdapterUpdater#update}, the trainer's single-user path) against batched
 * ({@link UserAdapterUpdater#updateMany}: all users' training in one forward and backward pass per step), in the same
 * run, on the default model with its LaMP_2M task adapter merged, plain variant. Each user's items are a distinct
 * slice of the synthetic LaMP_2M histories.
 */
@Command(name = "train-many", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Multi-user training: users/s batched vs one at a time (same updates, same run).",
        "Last line: one JSON object; ratio = batched_users_per_s / single_users_per_s."})
public final class TrainManyBench implements Callable<Integer> {

  @Mixin
  OfflineModels offline;

  @Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--users", defaultValue = "16", description = "users (${DEFAULT-VALUE})")
  int users;

  @Option(names = "--items", defaultValue = "20", description = "new history items per user (${DEFAULT-VALUE})")
  int items;

  @Option(names = "--batch-users", defaultValue = "16",
      description = "users trained together in one batch (${DEFAULT-VALUE})")
  int batchUsers;

  @Override
  public Integer call() throws Exception {
    if (users < 1 || items < 2 || batchUsers < 1) {
      throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
          "--users and --batch-users must be positive, --items at least 2");
    }
    Task task = Task.MOVIE_TAGGING;
    List<Map<String, String>> pool = new ArrayList<>();
    for (long s = seedOption.seed(); pool.size() < (users + 1) * items; s++) {
      for (UserData u : Synth.generate(task, Synth.Params.defaults().withSeed(s)).trainUsers()) {
        for (HistoryItem h : u.profile()) {
          pool.add(h.fields());
        }
      }
    }
    UserAdapterUpdater.Settings settings = TrainerDefaults.user();
    try (TaskModels models = offline.open()) {
      TaskModels.TaskModel tm = models.get(task.id());
      UserAdapterUpdater updater = OfflineModels.updater(models, tm, settings);
      List<UserAdapterUpdater.Request> requests = new ArrayList<>();
      for (int u = 0; u < users; u++) {
        requests.add(request(task, "user-" + u, pool.subList((u + 1) * items, (u + 2) * items)));
      }
      System.out.println("model: " + offline.model.model() + " + " + task.id() + " task adapter; " + users
          + " users x " + items + " new items, " + settings.training().describe() + ", " + batchUsers
          + " users per batch");
      // warm-up (JIT, allocator): one user alone and two together, on items no user has
      UserAdapterUpdater.Request w = request(task, "warm-up", pool.subList(0, items));
      closeAll(List.of(run(updater, w)));
      closeAll(updater.updateMany(List.of(w, request(task, "warm-up-2", pool.subList(0, items)))));

      long t0 = System.nanoTime();
      List<UserAdapterUpdater.Outcome> single = new ArrayList<>();
      for (UserAdapterUpdater.Request q : requests) {
        single.add(run(updater, q));
      }
      double singleS = (System.nanoTime() - t0) / 1e9;
      int singleAccepted = closeAll(single);

      t0 = System.nanoTime();
      List<UserAdapterUpdater.Outcome> batched = new ArrayList<>();
      for (int i = 0; i < requests.size(); i += batchUsers) {
        batched.addAll(updater.updateMany(requests.subList(i, Math.min(requests.size(), i + batchUsers))));
      }
      double batchedS = (System.nanoTime() - t0) / 1e9;
      int batchedAccepted = closeAll(batched);

      double singleRate = users / singleS;
      double batchedRate = users / batchedS;
      System.out.printf(Locale.ROOT, "one at a time: %.2f s (%.3f users/s, %d accepted); batched: %.2f s"
          + " (%.3f users/s, %d accepted); ratio %.2f%n", singleS, singleRate, singleAccepted, batchedS, batchedRate,
          batchedAccepted, batchedRate / singleRate);
      String threads = System.getProperty("ai.djl.pytorch.num_threads");
      System.out.println(dev.oppu.cli.JsonOut.object().put("bench", "train-many").put("users", users)
          .put("items", items).put("batch_users", batchUsers).put("single_s", singleS, 3)
          .put("batched_s", batchedS, 3).put("single_users_per_s", singleRate, 4)
          .put("batched_users_per_s", batchedRate, 4).put("ratio", batchedRate / singleRate, 3)
          .put("single_accepted", singleAccepted).put("batched_accepted", batchedAccepted)
          .put("threads", threads == null ? "default" : threads));
    }
    return 0;
  }

  /** A first version (no previous adapter) over {@code items}, all new. */
  private static UserAdapterUpdater.Request request(Task task, String user, List<Map<String, String>> items) {
    List<UserAdapterUpdater.Item> h = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      h.add(new UserAdapterUpdater.Item(i, i, items.get(i)));
    }
    return new UserAdapterUpdater.Request(user, task, Variant.PLAIN, h, 0, Long.MIN_VALUE, null, null, 1);
  }

  private static UserAdapterUpdater.Outcome run(UserAdapterUpdater updater, UserAdapterUpdater.Request q) {
    return updater.update(q.userId(), q.task(), q.variant(), q.history(), q.newFromSeq(), q.replayFromSeq(),
        q.profile(), q.previous(), q.version(), null);
  }

  /** Closes the accepted adapters; returns how many there were. */
  private static int closeAll(List<UserAdapterUpdater.Outcome> outcomes) {
    int accepted = 0;
    for (UserAdapterUpdater.Outcome o : outcomes) {
      if (o.adapter() != null) {
        o.adapter().close();
        accepted++;
      }
    }
    return accepted;
  }
}
