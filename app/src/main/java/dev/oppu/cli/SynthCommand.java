package dev.oppu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code oppu synth}: synthetic LaMP data with latent per-user preferences (see {@link Synth}). */
@Command(name = "synth", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Write synthetic LaMP data (OPPU's processed form) with latent per-user preferences.",
        "Per task, into OUT/<task_name>/: users.json (evaluated users: {user_id, profile, query}), users_labels.json"
            + " ({task, golds}), train_users.json (non-evaluated users, whose text pretrains the base model and trains"
            + " the task adapter; golds inline), truth.json (each user's preference, shift point, activity; per query"
            + " the gold, the crowd's answer, the user's own answer, the pre-shift answer; the ceilings those answers"
            + " score), crowd_preds.json, personal_preds.json (and pre_shift_preds.json) for `oppu eval`.",
        "Preferences: movie/news: 15 latent kinds with their own vocabulary; the crowd gives kind k label k, a user"
            + " relabels their 2nd and 4th of 4 favourite kinds (after a shift: the 1st and 3rd instead). Rating: a personal bias in -2..2 on the review's latent quality."
            + " Headline/title/tweet: a personal prefix, closing word, length and case. Citation: a user cites 2"
            + " topics of their own.",
        "Activity of evaluated user i: few (8-16 items) if i%5 in {0,2}, medium (24-48) if in {1,3}, many (64-128)"
            + " if 4; non-evaluated users medium. Label noise 5%. Items are dated; queries come after the history.",
        "--shift: every evaluated user changes preference after their history, then has --post-shift more items;"
            + " queries follow the new preference.",
        "Deterministic by --seed. Defaults: --users 20 --train-users 40 --queries 8 --seed 42 --post-shift 30."})
public final class SynthCommand implements Callable<Integer> {

  @Option(names = "--task", defaultValue = "all", description = "LaMP_1 ... LaMP_7, a task name, or all (default)")
  String task;

  @Option(names = "--users", defaultValue = "20", description = "evaluated users per task (default ${DEFAULT-VALUE})")
  int users;

  @Option(names = "--train-users", defaultValue = "40",
      description = "non-evaluated users per task (default ${DEFAULT-VALUE})")
  int trainUsers;

  @Option(names = "--queries", defaultValue = "8", description = "queries per evaluated user (default ${DEFAULT-VALUE})")
  int queries;

  @Option(names = "--out", required = true, description = "output directory")
  Path out;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--shift", description = "plant a preference shift in every evaluated user")
  boolean shift;

  @Option(names = "--post-shift", defaultValue = "30",
      description = "history items after the shift (default ${DEFAULT-VALUE})")
  int postShift;

  @Option(names = "--lamp-format", description = "also write the evaluated users in LaMP's own form:"
      + " lamp_questions.json (one entry per query, with user_id and dated profile) and lamp_outputs.json")
  boolean lampFormat;

  @Override
  public Integer call() throws Exception {
    List<Task> tasks = Task.list(task);
    Synth.Params d = Synth.Params.defaults();
    Synth.Params p = new Synth.Params(users, trainUsers, queries, d.trainQueries(), seedOption.seed(), shift, postShift, d.noise());
    ObjectMapper json = new ObjectMapper();
    ObjectNode summary = json.createObjectNode();
    for (Task t : tasks) {
      SynthDataset ds = Synth.generate(t, p);
      Path dir = ds.write(out, lampFormat);
      ObjectNode n = summary.putObject(t.id());
      n.put("dir", dir.toString());
      n.put("users", ds.users().size());
      n.put("train_users", ds.trainUsers().size());
      n.put("queries", ds.queryTruth().size());
      n.set("ceilings", json.valueToTree(ds.ceilings()));
    }
    System.out.println(json.writeValueAsString(summary));
    return 0;
  }
}
