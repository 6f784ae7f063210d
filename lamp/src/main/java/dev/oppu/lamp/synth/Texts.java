package dev.oppu.lamp.synth;

import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Sentence-template text for the synthetic tasks. The first sentence of every text carries its key words (the ones a
 * crowd headline, title or tweet is made of), later sentences add topic words, some drawn from another topic (noise,
 * so a single keyword does not give the answer away).
 */
final class Texts {

  /** Share of later slots filled from another topic. */
  static final double OFF_TOPIC = 0.15;

  /** The words a text is built around: adjective, noun, verb, second noun, third noun, place. */
  record Keys(String a1, String n1, String v1, String n2, String n3, String place) {}

  private Texts() {}

  static <T> T pick(SplittableRandom r, List<T> xs) {
    return xs.get(r.nextInt(xs.size()));
  }

  static Keys keys(SplittableRandom r, Topic t, List<String> verbs) {
    String n1 = pick(r, t.nouns());
    String n2 = other(r, t.nouns(), n1);
    String n3 = other(r, t.nouns(), n1, n2);
    return new Keys(pick(r, t.adjectives()), n1, verbs.isEmpty() ? "" : pick(r, verbs), n2, n3,
        pick(r, Vocabulary.PLACES));
  }

  private static String other(SplittableRandom r, List<String> xs, String... not) {
    while (true) {
      String x = pick(r, xs);
      if (!List.of(not).contains(x)) {
        return x;
      }
    }
  }

  /**
   * Fills {N} {V} {A} (topic, sometimes another topic), {P} people, {T} time, {L} place, {S} a word of
   * {@code sentiment}; other text is kept.
   */
  static String fill(SplittableRandom r, String template, Topic topic, List<Topic> all, List<String> sentiment) {
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < template.length()) {
      char c = template.charAt(i);
      if (c == '{' && i + 2 < template.length() && template.charAt(i + 2) == '}') {
        char slot = template.charAt(i + 1);
        Topic t = r.nextDouble() < OFF_TOPIC ? pick(r, all) : topic;
        sb.append(switch (slot) {
          case 'N' -> pick(r, t.nouns());
          case 'V' -> pick(r, t.verbs().isEmpty() ? topic.verbs() : t.verbs());
          case 'A' -> pick(r, t.adjectives());
          case 'P' -> pick(r, Vocabulary.PEOPLE);
          case 'T' -> pick(r, Vocabulary.TIMES);
          case 'L' -> pick(r, Vocabulary.PLACES);
          case 'S' -> pick(r, sentiment);
          default -> throw new IllegalArgumentException("slot {" + slot + "}");
        });
        i += 3;
      } else {
        sb.append(c);
        i++;
      }
    }
    return sb.toString();
  }

  /** The first sentence, then templates drawn at random until the text has at least {@code minWords} words. */
  static String text(SplittableRandom r, String first, List<String> templates, Topic topic, List<Topic> all,
      List<String> sentiment, int minWords, String closing) {
    StringBuilder sb = new StringBuilder(first);
    int words = first.split(" ").length + (closing == null ? 0 : closing.split(" ").length);
    while (words < minWords) {
      String s = fill(r, pick(r, templates), topic, all, sentiment);
      sb.append(' ').append(s);
      words += s.split(" ").length;
    }
    if (closing != null) {
      sb.append(' ').append(closing);
    }
    return articles(sb.toString());
  }

  private static final java.util.regex.Pattern A_VOWEL = java.util.regex.Pattern.compile("\\b([aA]) ([aeiou])");

  /** "a" before a vowel becomes "an". */
  static String articles(String s) {
    return A_VOWEL.matcher(s).replaceAll("$1n $2");
  }

  static final List<String> MOVIE = List.of(
      "when the {N} {V} the {A} {N}, everything changes.",
      "the story follows a {N} who {V} a {N} in the {L}.",
      "along the way the {A} {N} {V} a {N}.",
      "it is a {A} tale of a {N} and a {N}.",
      "soon the {N} {V} the {N} and the {A} {N}.",
      "a {A} {N} {V} the {N} one {T}.");

  static final List<String> NEWS = List.of(
      "{P} said the {N} {V} a {A} {N}.",
      "according to {P}, the {A} {N} {V} the {N} this {T}.",
      "the {N} and the {A} {N} were at the center of the story.",
      "many {P} expect the {A} {N} to matter in the {L}.",
      "a {A} {N} {V} the {N} in the {L}.",
      "the {N} {V} the {A} {N} again on {T}.");

  static final List<String> REVIEW = List.of(
      "the {A} {N} feels {S}.",
      "i bought it for my {N} and the {N} was {S}.",
      "after a {T} the {N} still looks {S}.",
      "compared to the {N}, the {A} {N} is {S}.",
      "overall a {S} {N}.");

  static final List<String> ABSTRACT = List.of(
      "existing approaches to {N} and {N} ignore the {A} {N}.",
      "our approach uses the {N} to improve the {A} {N}.",
      "we study the {A} {N} problem and give a new {N} model.",
      "experiments on {A} {N} data show that the method outperforms the baseline.",
      "the results show better {N} and lower {N} cost.",
      "we also analyze the {N} of the {A} {N}.");

  static final List<String> TWEET_SOURCE = List.of(
      "{P} noticed that the {N} {V} the {A} {N}.",
      "it happened in the {L} on {T}.",
      "the {A} {N} was part of it too.",
      "nobody expected the {A} {N} at the {L}.",
      "the {N} {V} a {N} afterwards.");

  static final List<String> RESEARCH_TITLE = List.of(
      "{A} {N} for {N}",
      "{A} {N} {N} with {N}",
      "on {A} {N} and {N}",
      "learning {A} {N} from {N}");
}
