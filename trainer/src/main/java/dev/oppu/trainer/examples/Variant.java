package dev.oppu.trainer.examples;

import java.util.Locale;

/** OPPU's three per-user adapter variants: their training examples differ (SPEC section 2). */
public enum Variant {
  /** OPPU: the task prompt only. */
  PLAIN,
  /** OPPU+RAG: k items retrieved by BM25 from the user's earlier history prepended. */
  RAG,
  /** OPPU+PAG: the user's profile prepended. */
  PAG;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Variant of(String id) {
    for (Variant v : values()) {
      if (v.id().equalsIgnoreCase(id)) {
        return v;
      }
    }
    throw new IllegalArgumentException("unknown variant '" + id + "' (expected plain, rag or pag)");
  }
}
