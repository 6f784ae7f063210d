package dev.oppu.lamp.data;

import java.util.List;

/**
 * One user as both file forms describe them: a history ("profile") and queries.
 *
 * <p>OPPU's processed files hold one entry per user. LaMP's own {@code *_questions.json} hold one entry per question,
 * each with the profile of the user who asked it; the time-based split names that user ({@code user_id}), the
 * user-based split does not, so there the question id serves as the user id: each question is its own user, which is
 * also how LaMP's user-based split is built (one question per user).
 */
public record UserData(String userId, List<HistoryItem> profile, List<Query> queries) {

  public UserData {
    if (userId == null || userId.isEmpty()) {
      throw new IllegalArgumentException("user without id");
    }
    profile = List.copyOf(profile);
    queries = List.copyOf(queries);
  }
}
