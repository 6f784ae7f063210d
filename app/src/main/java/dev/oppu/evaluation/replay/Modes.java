package dev.oppu.evaluation.replay;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** The six serving modes by their report names, and the adapter variant each one needs (SPEC section 2). */
public final class Modes {

  public static final String NON_PERSONALIZED = "non-personalized";
  public static final String RAG = "RAG";
  public static final String PAG = "PAG";
  public static final String OPPU = "OPPU";
  public static final String OPPU_RAG = "OPPU+RAG";
  public static final String OPPU_PAG = "OPPU+PAG";

  /** In the order of OPPU's tables. */
  public static final List<String> ALL = List.of(NON_PERSONALIZED, RAG, PAG, OPPU, OPPU_RAG, OPPU_PAG);

  private Modes() {}

  /** The per-user adapter variant a mode serves with; empty for modes without a user adapter. */
  public static Optional<String> variant(String mode) {
    return switch (mode) {
      case OPPU -> Optional.of("plain");
      case OPPU_RAG -> Optional.of("rag");
      case OPPU_PAG -> Optional.of("pag");
      default -> Optional.empty();
    };
  }

  /** Validates names (case-insensitive, canonical spelling returned), keeping the given order. */
  public static List<String> parse(List<String> names) {
    Set<String> out = new LinkedHashSet<>();
    for (String n : names) {
      String match = ALL.stream().filter(m -> m.equalsIgnoreCase(n.trim())).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("unknown mode '" + n + "' (expected one of " + ALL + ")"));
      out.add(match);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no modes given");
    }
    return new ArrayList<>(out);
  }

  /** The variants the given modes need, in mode order. */
  public static List<String> variants(List<String> modes) {
    Set<String> out = new LinkedHashSet<>();
    for (String m : modes) {
      variant(m).ifPresent(out::add);
    }
    return new ArrayList<>(out);
  }

  /** The request id of one query in one mode. */
  public static String requestId(String queryId, String mode) {
    return queryId + "/" + mode;
  }
}
