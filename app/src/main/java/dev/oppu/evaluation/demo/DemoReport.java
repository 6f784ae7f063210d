package dev.oppu.evaluation.demo;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.ReplayOutput;
import dev.oppu.evaluation.replay.ReplayResult;
import dev.oppu.evaluation.replay.ResultsTable;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Writes a demo's output folder: {@code results.json} ({mode: {task: {metric: value}}}, measured modes only), the
 * replay's predictions and counts, {@code demo.json} (everything else measured), {@code report.md}, and PNG plots.
 */
public final class DemoReport {

  public static final String RESULTS_PNG = "results.png";
  public static final String ACTIVITY_PNG = "activity.png";
  public static final String SHIFT_PNG = "shift.png";
  public static final String LAG_PNG = "lag.png";

  private DemoReport() {}

  /** Writes every file; returns the report's Markdown. */
  public static String write(DemoResults r, Path out) {
    System.setProperty("java.awt.headless", "true");
    try {
      Files.createDirectories(out);
      ReplayOutput.write(r.replay(), out); // predictions/, results.json, replay.json
      ReplayOutput.JSON.writeValue(out.resolve("demo.json").toFile(), details(r));
      List<String> plots = new ArrayList<>();
      if (resultsChart(r, out.resolve(RESULTS_PNG))) {
        plots.add(RESULTS_PNG);
      }
      if (activityChart(r, out.resolve(ACTIVITY_PNG))) {
        plots.add(ACTIVITY_PNG);
      }
      if (shiftChart(r, out.resolve(SHIFT_PNG))) {
        plots.add(SHIFT_PNG);
      }
      if (lagChart(r.lagsMillis(), out.resolve(LAG_PNG))) {
        plots.add(LAG_PNG);
      }
      String md = markdown(r, plots);
      Files.writeString(out.resolve("report.md"), md);
      return md;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the demo report to " + out + ": " + e.getMessage(), e);
    }
  }

  static ObjectNode details(DemoResults r) {
    ObjectNode root = ReplayOutput.JSON.createObjectNode();
    root.put("model", r.model());
    if (r.data() != null) {
      root.put("data", r.data());
    }
    root.set("setup", ReplayOutput.JSON.valueToTree(r.setup()));
    root.set("results", ReplayOutput.JSON.valueToTree(r.replay().metrics()));
    root.set("ceilings", ReplayOutput.JSON.valueToTree(r.ceilings()));
    root.set("byActivity", ReplayOutput.JSON.valueToTree(r.byActivity()));
    if (r.shift() != null) {
      ObjectNode s = ReplayOutput.JSON.valueToTree(r.shift());
      s.put("recoveredAtEvents", r.shift().recoveredAtEvents());
      s.put("meetsRecoveryTarget", r.shift().meetsTarget());
      root.set("shift", s);
    }
    root.set("adaptationLagMillis", ReplayOutput.JSON.valueToTree(r.replay().lags()));
    root.set("requests", ReplayOutput.JSON.valueToTree(r.replay().stats()));
    root.set("phaseSeconds", ReplayOutput.JSON.valueToTree(r.phaseSeconds()));
    return root;
  }

  static String markdown(DemoResults r, List<String> plots) {
    StringBuilder md = new StringBuilder();
    md.append("# OPPU on Kafka: demo report\n\n");
    md.append("Model: ").append(r.model()).append(".\n\n");
    md.append("Every number below was measured in this run, on ")
        .append(r.data() != null ? r.data() : "synthetic LaMP-format data with planted per-user preferences")
        .append(". The model is our small default, not the paper's Llama-2-7b, so absolute scores are not comparable"
            + " to the paper's; what carries over is the comparison between modes on the same data.\n\n");
    md.append("## Setup\n\n");
    for (String s : r.setup()) {
      md.append("- ").append(s).append('\n');
    }
    md.append('\n');

    md.append("## Scores per mode\n\n");
    md.append(ResultsTable.markdown(r.replay().metrics(), r.ceilings())).append('\n');
    List<String> notMeasured = new ArrayList<>();
    for (String mode : Modes.ALL) {
      if (!r.replay().metrics().containsKey(mode)) {
        notMeasured.add(mode);
      }
    }
    md.append("Rows starting with \"ceiling\" are not modes: they score the ground truth's own answers (the crowd's"
        + " majority answer; each user's true preference) with the same metric, as reference points.");
    if (!notMeasured.isEmpty()) {
      md.append(" Not reported (not fully measured in this run): ").append(String.join(", ", notMeasured))
          .append("; see the request counts below.");
    }
    md.append("\n\n");
    md.append("Requests per mode and task (queries, answered, errors, answered cold, missing):\n\n");
    md.append("| mode | task | queries | answered | errors | cold | missing |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    r.replay().stats().forEach((mode, byTask) -> byTask.forEach((task, s) -> md.append(String.format(Locale.ROOT,
        "| %s | %s | %d | %d | %d | %d | %d |%n", mode, task, s.queries(), s.answered(), s.errors(), s.cold(),
        s.missing()))));
    md.append('\n');
    if (r.replay().coverage() != null) {
      var c = r.replay().coverage();
      md.append(String.format(Locale.ROOT, "Adapters when the queries were sent, of %d (user, task, variant): %d"
          + " trained on every replayed item; %d processed the last item but hold the newest items out for"
          + " validation or were refused; %d not processed.%n%n", c.total(), c.covered(), c.processed() - c.covered(),
          c.total() - c.processed()));
    }
    image(md, plots, RESULTS_PNG, "Scores per mode");

    md.append("## Per user activity\n\n");
    md.append("Evaluated users split into three equal groups by the number of history items they sent (as in OPPU's"
        + " analysis).\n\n");
    md.append("| mode | task | level | users | history items | queries | scores |\n"
        + "| --- | --- | --- | --- | --- | --- | --- |\n");
    r.byActivity().forEach((mode, byTask) -> byTask.forEach((task, byLevel) -> byLevel.forEach((level, g) ->
        md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %d-%d | %d | %s |%n", mode, task, level,
            g.users(), g.minItems(), g.maxItems(), g.queries(), fmt(g.metrics()))))));
    md.append('\n');
    image(md, plots, ACTIVITY_PNG, "Scores by activity level");

    md.append("## Adaptation after the planted shift\n\n");
    DemoResults.ShiftCurve s = r.shift();
    if (s == null) {
      md.append("The data of this run has no shifted users: not measured.\n\n");
    } else {
      md.append(String.format(Locale.ROOT, "%s, %d shifted users. Their queries ask for the post-shift preference."
          + " \"continuous\": OPPU with adapters the trainer keeps updating; \"frozen\": OPPU with adapters trained"
          + " on the pre-shift history only (a twin of each user that received only the pre-shift events, served"
          + " by the same system); \"non-personalized\": the task model alone, measured once before the post-shift events (it does not see the user's events). All three are scored against each user's noise-free post-shift answers. Pre-shift level: %.4f (continuous"
          + " adapters on the same users' queries, scored against their noise-free pre-shift answers, before any post-shift event).%n%n", s.task(), s.users(), s.preShiftLevel()));
      md.append("| events since shift | continuous | frozen | non-personalized | queries |\n| --- | --- | --- | --- | --- |\n");
      for (DemoResults.Point p : s.points()) {
        md.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %d |%n", p.events(), fmt(p.continuous()),
            fmt(p.frozen()), fmt(p.nonPersonalized()), p.queries()));
      }
      md.append('\n');
      int at = s.recoveredAtEvents();
      md.append(String.format(Locale.ROOT, "SPEC target: back within 5 accuracy points of the pre-shift level within"
          + " %d new events per user, while frozen adapters are not. Measured: continuous adapters %s; frozen"
          + " adapters %s. Verdict: **%s**.%n%n", s.recoveryTargetEvents(),
          at < 0 ? "do not get back within 5 points in the measured steps" : "get back within 5 points after " + at
              + " events",
          s.frozenStaysBelow() == null ? "not measured" : s.frozenStaysBelow() ? "stay below that band"
              : "also reach that band, so the comparison shows no effect of updating",
          s.meetsTarget() ? "target met" : "target not met"));
      image(md, plots, SHIFT_PNG, "Adaptation after the shift");
    }

    md.append("## Adaptation lag\n\n");
    md.append("From a behavior's broker timestamp to the publication of the first adapter version covering it.\n\n");
    md.append("| variant | events | covered | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- |\n");
    r.replay().lags().forEach((v, l) -> md.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %d |%n",
        v, l.events(), l.covered(), l.p50Millis(), l.p99Millis(), l.maxMillis())));
    md.append('\n');
    lagBreakdown(md, r);
    image(md, plots, LAG_PNG, "Adaptation lag");

    md.append("## Wall time\n\n| phase | seconds |\n| --- | --- |\n");
    r.phaseSeconds().forEach((k, v) -> md.append(String.format(Locale.ROOT, "| %s | %.1f |%n", k, v)));
    md.append('\n');
    return md.toString();
  }

  private static void image(StringBuilder md, List<String> plots, String name, String alt) {
    if (plots.contains(name)) {
      md.append("![").append(alt).append("](").append(name).append(")\n\n");
    }
  }

  private static String fmt(Map<String, Double> m) {
    if (m == null || m.isEmpty()) {
      return "not scored";
    }
    List<String> parts = new ArrayList<>();
    m.forEach((k, v) -> parts.add(k + " " + fmt(v)));
    return String.join(", ", parts);
  }

  private static String fmt(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.4f", v);
  }

  /** The first metric of each task (accuracy, mae or rouge1) per mode, with the ceilings. */
  static boolean resultsChart(DemoResults r, Path file) throws IOException {
    DefaultCategoryDataset ds = new DefaultCategoryDataset();
    Map<String, Map<String, Map<String, Double>>> rows = new LinkedHashMap<>(r.replay().metrics());
    rows.putAll(r.ceilings());
    rows.forEach((mode, byTask) -> byTask.forEach((task, m) -> {
      if (!m.isEmpty()) {
        var first = m.entrySet().iterator().next();
        ds.addValue(first.getValue(), mode, task + " " + first.getKey());
      }
    }));
    if (ds.getRowCount() == 0) {
      return false;
    }
    JFreeChart c = ChartFactory.createBarChart("Scores per mode (measured) and ground-truth ceilings", null, "score",
        ds, PlotOrientation.VERTICAL, true, false, false);
    style(c);
    ChartUtils.saveChartAsPNG(file.toFile(), c, 1000, 560);
    return true;
  }

  static boolean activityChart(DemoResults r, Path file) throws IOException {
    DefaultCategoryDataset ds = new DefaultCategoryDataset();
    r.byActivity().forEach((mode, byTask) -> byTask.forEach((task, byLevel) -> byLevel.forEach((level, g) -> {
      if (!g.metrics().isEmpty()) {
        var first = g.metrics().entrySet().iterator().next();
        ds.addValue(first.getValue(), mode, task + " " + first.getKey() + " / " + level);
      }
    })));
    if (ds.getRowCount() == 0) {
      return false;
    }
    JFreeChart c = ChartFactory.createBarChart("Scores by user activity (history items: few, medium, many)", null,
        "score", ds, PlotOrientation.VERTICAL, true, false, false);
    style(c);
    ChartUtils.saveChartAsPNG(file.toFile(), c, 1100, 560);
    return true;
  }

  static boolean shiftChart(DemoResults r, Path file) throws IOException {
    DemoResults.ShiftCurve s = r.shift();
    if (s == null || s.points().isEmpty()) {
      return false;
    }
    XYSeries cont = new XYSeries("continuously updated adapters");
    XYSeries frozen = new XYSeries("adapters frozen before the shift");
    XYSeries np = new XYSeries("non-personalized");
    for (DemoResults.Point p : s.points()) {
      if (p.continuous() != null) {
        cont.add(p.events(), p.continuous());
      }
      if (p.frozen() != null) {
        frozen.add(p.events(), p.frozen());
      }
      if (p.nonPersonalized() != null) {
        np.add(p.events(), p.nonPersonalized());
      }
    }
    XYSeriesCollection ds = new XYSeriesCollection();
    ds.addSeries(cont);
    ds.addSeries(frozen);
    ds.addSeries(np);
    JFreeChart c = ChartFactory.createXYLineChart(s.task() + ": accuracy after the planted shift",
        "post-shift events per user", "accuracy", ds, PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = c.getXYPlot();
    plot.setRenderer(new XYLineAndShapeRenderer(true, true));
    ValueMarker level = new ValueMarker(s.preShiftLevel(), Color.DARK_GRAY, new BasicStroke(1.5f));
    level.setLabel("pre-shift level");
    insideLeft(level);
    plot.addRangeMarker(level);
    ValueMarker band = new ValueMarker(s.preShiftLevel() - 0.05, Color.GRAY, new BasicStroke(1f,
        BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {4f, 4f}, 0f));
    band.setLabel("-5 points");
    insideLeft(band);
    plot.addRangeMarker(band);
    ValueMarker target = new ValueMarker(s.recoveryTargetEvents(), Color.GRAY, new BasicStroke(1f));
    target.setLabel("target");
    plot.addDomainMarker(target);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    ChartUtils.saveChartAsPNG(file.toFile(), c, 900, 520);
    return true;
  }

  /** A horizontal marker's label just above its line, inside the plot (the default anchor clips it at the edge). */
  private static void insideLeft(ValueMarker m) {
    m.setLabelAnchor(org.jfree.chart.ui.RectangleAnchor.TOP_LEFT);
    m.setLabelTextAnchor(org.jfree.chart.ui.TextAnchor.BOTTOM_LEFT);
    m.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(2, 6, 2, 2));
  }

  /** Where each variant's lag goes, and how long the trainer trained against the replay's wall time. */
  static void lagBreakdown(StringBuilder md, DemoResults r) {
    var lags = r.replay().lags();
    if (lags.values().stream().noneMatch(l -> l.breakdown() != null && l.breakdown().events() > 0)) {
      return;
    }
    md.append("Where the lag goes, per covered behavior: until the trigger its covering version answers (ingestion, and"
        + " the user's previous training: one trigger per adapter is pending at a time), queued behind other"
        + " trainings, and the training itself with validation and publication.\n\n");
    md.append("| variant | part | p50 s | p99 s | share of the lag |\n| --- | --- | --- | --- | --- |\n");
    long trainingMillis = 0;
    int versions = 0;
    for (var e : lags.entrySet()) {
      ReplayResult.LagBreakdown b = e.getValue().breakdown();
      if (b == null || b.events() == 0) {
        continue;
      }
      trainingMillis += b.trainingMillis();
      versions += b.versions();
      String[] names = {"until its trigger", "queued for the trainer", "training and publishing"};
      ReplayResult.LagBreakdown.Part[] parts = {b.untilTrigger(), b.queued(), b.training()};
      for (int i = 0; i < parts.length; i++) {
        md.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.0f%% |%n", e.getKey(), names[i],
            parts[i].p50Millis() / 1e3, parts[i].p99Millis() / 1e3, 100 * parts[i].share()));
      }
    }
    ReplayResult.Timing t = r.replay().timing();
    double wall = t == null ? 0 : t.publishSeconds() + t.adaptSeconds();
    md.append(String.format(Locale.ROOT, "%nThe covering versions (%d) took %.0f s of training%s.%n%n", versions,
        trainingMillis / 1e3, wall > 0 ? String.format(Locale.ROOT,
            " in the %.0f s from the first behavior published to the last adapter awaited (%.0f%%)", wall,
            100 * trainingMillis / 1e3 / wall) : ""));
  }

  /**
   * The lag as a cumulative distribution per variant (share of behaviors covered within x seconds), with the 60 s
   * target marked: overlapping histograms hid every variant but the first.
   */
  static boolean lagChart(Map<String, long[]> lagsMillis, Path file) throws IOException {
    XYSeriesCollection ds = new XYSeriesCollection();
    lagsMillis.forEach((variant, lags) -> {
      if (lags.length > 0) {
        ds.addSeries(cdf(variant, lags));
      }
    });
    if (ds.getSeriesCount() == 0) {
      return false;
    }
    JFreeChart c = ChartFactory.createXYLineChart("Adaptation lag (behavior at the broker -> covering adapter)",
        "seconds", "share of behaviors covered", ds, PlotOrientation.VERTICAL, true, false, false);
    XYPlot p = c.getXYPlot();
    p.setRenderer(new org.jfree.chart.renderer.xy.XYStepRenderer());
    p.setBackgroundPaint(Color.WHITE);
    p.setDomainGridlinePaint(Color.LIGHT_GRAY);
    p.setRangeGridlinePaint(Color.LIGHT_GRAY);
    p.getRangeAxis().setRange(0, 1.0);
    for (int i = 0; i < ds.getSeriesCount(); i++) {
      p.getRenderer().setSeriesStroke(i, new BasicStroke(2f));
    }
    ValueMarker target = new ValueMarker(LAG_TARGET_SECONDS, Color.GRAY, new BasicStroke(1f));
    target.setLabel("p99 target " + (int) LAG_TARGET_SECONDS + " s");
    target.setLabelAnchor(org.jfree.chart.ui.RectangleAnchor.BOTTOM_RIGHT);
    target.setLabelTextAnchor(org.jfree.chart.ui.TextAnchor.BOTTOM_LEFT);
    target.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(2, 6, 8, 2));
    p.addDomainMarker(target);
    ChartUtils.saveChartAsPNG(file.toFile(), c, 900, 480);
    return true;
  }

  static final double LAG_TARGET_SECONDS = 60;

  /** Empirical CDF: after the i-th smallest lag (seconds), (i + 1) / n of the behaviors are covered. */
  static XYSeries cdf(String name, long[] lagsMillis) {
    long[] sorted = lagsMillis.clone();
    java.util.Arrays.sort(sorted);
    XYSeries s = new XYSeries(name, true, false);
    s.add(0.0, 0.0);
    for (int i = 0; i < sorted.length; i++) {
      s.addOrUpdate(sorted[i] / 1000.0, (i + 1) / (double) sorted.length);
    }
    return s;
  }

  private static void style(JFreeChart c) {
    CategoryPlot p = c.getCategoryPlot();
    p.setBackgroundPaint(Color.WHITE);
    p.setRangeGridlinePaint(Color.LIGHT_GRAY);
  }
}
