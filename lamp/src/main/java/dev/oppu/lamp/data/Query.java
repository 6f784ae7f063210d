package dev.oppu.lamp.data;

/** One question to a user: LaMP's id and input (with its marker); the gold answer where the file carries it. */
public record Query(String id, String input, String gold) {

  public Query {
    if (id == null || input == null) {
      throw new IllegalArgumentException("query without id or input");
    }
  }

  public Query withGold(String newGold) {
    return new Query(id, input, newGold);
  }
}
