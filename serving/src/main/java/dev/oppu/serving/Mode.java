package dev.oppu.serving;

import java.util.Locale;

/**
 * The six ways a request can be answered (SPEC sections 2 and 4). OPPU modes use the user's own adapter of the variant
 * SPEC names (OPPU -> plain, OPPU+RAG -> rag, OPPU+PAG -> pag); the other modes use the task model alone. OPPU+PAG
 * puts the profile and the k retrieved items in the prompt (OPPU's {@code --k 1 --add_profile}), as its adapter was
 * trained; PAG, the task model's baseline, the profile alone.
 */
public enum Mode {
  NON_PERSONALIZED("non-personalized", null, false, false),
  RAG("RAG", null, true, false),
  PAG("PAG", null, false, true),
  OPPU("OPPU", "plain", false, false),
  OPPU_RAG("OPPU+RAG", "rag", true, false),
  OPPU_PAG("OPPU+PAG", "pag", true, true);

  private final String id;
  private final String variant;
  private final boolean retrieval;
  private final boolean profile;

  Mode(String id, String variant, boolean retrieval, boolean profile) {
    this.id = id;
    this.variant = variant;
    this.retrieval = retrieval;
    this.profile = profile;
  }

  /** The name used on the wire and in reports, e.g. {@code OPPU+RAG}. */
  public String id() {
    return id;
  }

  /** The adapter variant this mode reads ({@code plain}, {@code rag}, {@code pag}), or null for the task model alone. */
  public String variant() {
    return variant;
  }

  public boolean usesAdapter() {
    return variant != null;
  }

  public boolean usesRetrieval() {
    return retrieval;
  }

  public boolean usesProfile() {
    return profile;
  }

  /** Accepts the wire names case-insensitively, with {@code _} or {@code -} for {@code +} and a few aliases. */
  public static Mode of(String s) {
    if (s == null || s.isBlank()) {
      throw new IllegalArgumentException("empty mode");
    }
    String norm = s.strip().toUpperCase(Locale.ROOT).replace('_', '+').replace(' ', '+');
    for (Mode m : values()) {
      if (m.id.toUpperCase(Locale.ROOT).equals(norm) || m.name().replace('_', '+').equals(norm)) {
        return m;
      }
    }
    switch (norm) {
      case "NONE", "NP", "NONPERSONALIZED", "NON+PERSONALIZED", "BASE", "TASK" -> {
        return NON_PERSONALIZED;
      }
      case "OPPU-RAG" -> {
        return OPPU_RAG;
      }
      case "OPPU-PAG" -> {
        return OPPU_PAG;
      }
      default -> throw new IllegalArgumentException("unknown mode '" + s
          + "' (expected non-personalized, RAG, PAG, OPPU, OPPU+RAG or OPPU+PAG)");
    }
  }

  @Override
  public String toString() {
    return id;
  }
}
