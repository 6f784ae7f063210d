package dev.oppu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.Golds;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.metrics.LampMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code oppu eval}: LaMP's metrics over a golds file and a predictions file, printed as one JSON object. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = {"Score predictions exactly as LaMP's evaluation does; prints one JSON object.",
        "LaMP_1/2N/2M: accuracy, f1 (macro over the task's label list); LaMP_3: mae, rmse; LaMP_4/5/7: rouge1,"
            + " rougeL (F-measure, mean over examples).",
        "With --output-file the same object is also written to that file (OPPU's --output_file).",
        "Both files: {\"task\": \"LaMP_k\", \"golds\": [{\"id\": ..., \"output\": ...}]}; the id sets must be equal."})
public final class EvalCommand implements Callable<Integer> {

  @Option(names = "--task", required = true, description = "LaMP_1, LaMP_2N, LaMP_2M, LaMP_3, LaMP_4, LaMP_5, LaMP_7"
      + " (or OPPU's task name, e.g. movie_tagging)")
  String task;

  @Option(names = "--golds", required = true, description = "LaMP outputs file with the gold answers")
  Path golds;

  @Option(names = "--preds", required = true, description = "predictions in the same form")
  Path preds;

  @Option(names = "--output-file", paramLabel = "FILE",
      description = "also write the JSON object to FILE, as OPPU's eval_task.py --output_file does")
  Path outputFile;

  @Override
  public Integer call() throws Exception {
    Task t = Task.of(task);
    Golds g = LampFiles.readGolds(golds);
    Golds p = LampFiles.readGolds(preds);
    if (!LampFiles.taskMatches(g.task(), t)) {
      throw new LampInputException(golds + " is for task '" + g.task() + "', not " + t.id());
    }
    if (!LampFiles.taskMatches(p.task(), t)) {
      throw new LampInputException(preds + " is for task '" + p.task() + "', not " + t.id());
    }
    Map<String, Double> m = LampMetrics.evaluate(t, g.outputs(), p.outputs());
    ObjectMapper json = new ObjectMapper();
    ObjectNode out = json.createObjectNode();
    out.put("task", t.id());
    out.put("n", g.outputs().size());
    m.forEach(out::put);
    String line = json.writeValueAsString(out);
    if (outputFile != null) {
      Path parent = outputFile.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(outputFile, line + "\n");
    }
    System.out.println(line);
    return 0;
  }
}
