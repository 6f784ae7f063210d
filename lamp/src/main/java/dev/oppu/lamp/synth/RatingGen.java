package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Product rating (see {@link Synth}): a latent quality, and a personal bias. */
final class RatingGen implements Gen<Integer, RatingGen.Review> {

  record Review(int quality, String text) {}

  @Override
  public Integer newPref(SplittableRandom r) {
    return r.nextDouble() < 0.2 ? 0 : new int[] {-2, -1, 1, 2}[r.nextInt(4)];
  }

  @Override
  public Integer shift(SplittableRandom r, Integer old) {
    while (true) {
      int b = r.nextInt(5) - 2;
      if (Math.abs(b - old) >= 2) {
        return b;
      }
    }
  }

  @Override
  public Review latent(SplittableRandom r, Integer bias) {
    int q = 1 + r.nextInt(5);
    Topic t = Texts.pick(r, Vocabulary.NEWS);
    List<String> sentiment = Vocabulary.SENTIMENT.get(q - 1);
    String first = "this " + Texts.pick(r, t.nouns()) + " is " + Texts.pick(r, sentiment) + ".";
    String text = Texts.text(r, first, Texts.REVIEW, t, Vocabulary.NEWS, sentiment, 30 + r.nextInt(50),
        Vocabulary.SENTIMENT_CLOSING.get(q - 1));
    return new Review(q, text);
  }

  @Override
  public String answer(Integer bias, Review l) {
    return Integer.toString(Math.max(1, Math.min(5, l.quality() + bias)));
  }

  @Override
  public String crowd(Review l) {
    return Integer.toString(l.quality());
  }

  /** The bias (-2..2) that explains most of the user's ratings (ties: the smaller one), applied to the query. */
  @Override
  public String fromHistory(List<Map.Entry<Review, String>> history, Review query) {
    int best = 0;
    int bestFit = -1;
    for (int b : new int[] {0, -1, 1, -2, 2}) {
      int fit = 0;
      for (Map.Entry<Review, String> e : history) {
        fit += answer(b, e.getKey()).equals(e.getValue()) ? 1 : 0;
      }
      if (fit > bestFit) {
        best = b;
        bestFit = fit;
      }
    }
    return answer(best, query);
  }

  @Override
  public String corrupt(SplittableRandom r, Review l, String answer) {
    int a = Integer.parseInt(answer);
    int step = a == 1 ? 1 : a == 5 ? -1 : (r.nextBoolean() ? 1 : -1);
    return Integer.toString(a + step);
  }

  @Override
  public Map<String, String> item(Review l, String label) {
    return Gen.fields("text", l.text(), "score", label);
  }

  @Override
  public String input(Review l) {
    return Task.PRODUCT_RATING.lampInput(l.text(), List.of());
  }

  @Override
  public Map<String, Object> describe(Integer bias) {
    return Map.of("bias", bias);
  }
}
