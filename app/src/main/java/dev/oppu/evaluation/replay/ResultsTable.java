package dev.oppu.evaluation.replay;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The modes x (task, metric) table as fixed-width text (console) or Markdown (report). */
public final class ResultsTable {

  private ResultsTable() {}

  /** Fixed-width text; a mode or metric that was not measured shows "-". */
  public static String render(Map<String, Map<String, Map<String, Double>>> metrics) {
    return table(metrics, Map.of(), false);
  }

  /** Markdown, with extra rows (e.g. ground-truth ceilings) after the measured modes. */
  public static String markdown(Map<String, Map<String, Map<String, Double>>> metrics,
      Map<String, Map<String, Map<String, Double>>> extraRows) {
    return table(metrics, extraRows, true);
  }

  private static String table(Map<String, Map<String, Map<String, Double>>> metrics,
      Map<String, Map<String, Map<String, Double>>> extra, boolean md) {
    Set<String> columns = new LinkedHashSet<>();
    for (var rows : List.of(metrics, extra)) {
      for (var byTask : rows.values()) {
        for (var e : byTask.entrySet()) {
          for (String metric : e.getValue().keySet()) {
            columns.add(e.getKey() + " " + metric);
          }
        }
      }
    }
    List<String> header = new ArrayList<>();
    header.add("mode");
    header.addAll(columns);
    List<List<String>> body = new ArrayList<>();
    for (var rows : List.of(metrics, extra)) {
      for (var row : rows.entrySet()) {
        List<String> cells = new ArrayList<>();
        cells.add(row.getKey());
        for (String col : columns) {
          int sp = col.lastIndexOf(' ');
          Double v = row.getValue().getOrDefault(col.substring(0, sp), Map.of()).get(col.substring(sp + 1));
          cells.add(v == null ? "-" : String.format("%.4f", v));
        }
        body.add(cells);
      }
    }
    StringBuilder sb = new StringBuilder();
    if (md) {
      sb.append("| ").append(String.join(" | ", header)).append(" |\n|");
      sb.append(" --- |".repeat(header.size())).append('\n');
      for (List<String> r : body) {
        sb.append("| ").append(String.join(" | ", r)).append(" |\n");
      }
      return sb.toString();
    }
    int[] w = new int[header.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = header.get(i).length();
      for (List<String> r : body) {
        w[i] = Math.max(w[i], r.get(i).length());
      }
    }
    appendRow(sb, header, w);
    for (List<String> r : body) {
      appendRow(sb, r, w);
    }
    return sb.toString();
  }

  private static void appendRow(StringBuilder sb, List<String> cells, int[] w) {
    for (int i = 0; i < cells.size(); i++) {
      String c = cells.get(i);
      sb.append(i == 0 ? String.format("%-" + w[i] + "s", c) : String.format("  %" + w[i] + "s", c));
    }
    sb.append('\n');
  }
}
