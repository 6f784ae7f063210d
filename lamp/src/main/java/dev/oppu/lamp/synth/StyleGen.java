package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** News headline, scholarly title, tweet paraphrase (see {@link Synth}): key words, and a personal style. */
final class StyleGen implements Gen<StyleGen.Style, StyleGen.Piece> {

  record Style(String prefix, String suffix, String length, String letterCase) {}

  record Piece(Texts.Keys keys, String text) {}

  private static final List<String> LENGTHS = List.of("short", "medium", "long");
  private final Task task;
  private final List<String> prefixes;
  private final List<String> suffixes;

  StyleGen(Task task) {
    this.task = task;
    this.prefixes = switch (task) {
      case NEWS_HEADLINE -> Vocabulary.HEADLINE_PREFIXES;
      case SCHOLARLY_TITLE -> Vocabulary.TITLE_PREFIXES;
      default -> Vocabulary.TWEET_OPENERS;
    };
    this.suffixes = switch (task) {
      case NEWS_HEADLINE -> Vocabulary.HEADLINE_SUFFIXES;
      case SCHOLARLY_TITLE -> Vocabulary.TITLE_SUFFIXES;
      default -> Vocabulary.TWEET_HASHTAGS;
    };
  }

  @Override
  public Style newPref(SplittableRandom r) {
    String prefix = r.nextDouble() < 0.7 ? Texts.pick(r, prefixes) : null;
    String suffix = r.nextDouble() < 0.7 || prefix == null ? Texts.pick(r, suffixes) : null;
    return new Style(prefix, suffix, Texts.pick(r, LENGTHS), r.nextBoolean() ? "title" : "lower");
  }

  @Override
  public Style shift(SplittableRandom r, Style old) {
    String prefix;
    do {
      prefix = Texts.pick(r, prefixes);
    } while (prefix.equals(old.prefix()));
    String suffix;
    do {
      suffix = Texts.pick(r, suffixes);
    } while (suffix.equals(old.suffix()));
    return new Style(prefix, suffix, old.length(), old.letterCase());
  }

  @Override
  public Piece latent(SplittableRandom r, Style style) {
    if (task == Task.SCHOLARLY_TITLE) {
      Topic t = Texts.pick(r, Vocabulary.RESEARCH);
      Texts.Keys k = Texts.keys(r, t, List.of());
      String first = "we propose a " + k.a1() + " " + k.n1() + " method for " + k.n2() + " " + k.n3() + ".";
      return new Piece(k, Texts.text(r, first, Texts.ABSTRACT, t, Vocabulary.RESEARCH, null, 50 + r.nextInt(50),
          null));
    }
    Topic t = Texts.pick(r, Vocabulary.NEWS);
    Texts.Keys k = Texts.keys(r, t, t.verbs());
    if (task == Task.NEWS_HEADLINE) {
      String first = "the " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place()
          + " on " + Texts.pick(r, Vocabulary.TIMES) + ".";
      return new Piece(k, Texts.text(r, first, Texts.NEWS, t, Vocabulary.NEWS, null, 40 + r.nextInt(60), null));
    }
    String first = "the " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place() + ".";
    return new Piece(k, Texts.text(r, first, Texts.TWEET_SOURCE, t, Vocabulary.NEWS, null, 30 + r.nextInt(20),
        null));
  }

  private String core(Texts.Keys k, String length) {
    return switch (task) {
      case SCHOLARLY_TITLE -> switch (length) {
        case "short" -> k.n1() + " for " + k.n2();
        case "medium" -> k.a1() + " " + k.n1() + " for " + k.n2();
        default -> k.a1() + " " + k.n1() + " for " + k.n2() + " " + k.n3();
      };
      case NEWS_HEADLINE -> switch (length) {
        case "short" -> k.n1() + " " + k.v1() + " " + k.n2();
        case "medium" -> k.a1() + " " + k.n1() + " " + k.v1() + " " + k.n2();
        default -> k.a1() + " " + k.n1() + " " + k.v1() + " " + k.n2() + " in " + k.place();
      };
      default -> switch (length) {
        case "short" -> k.n1() + " " + k.v1() + " the " + k.n2();
        case "medium" -> k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2();
        default -> k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place();
      };
    };
  }

  @Override
  public String answer(Style s, Piece l) {
    String core = core(l.keys(), s.length());
    String out = switch (task) {
      case NEWS_HEADLINE -> (s.prefix() != null ? s.prefix() + ": " : "") + core
          + (s.suffix() != null ? " " + s.suffix() : "");
      case SCHOLARLY_TITLE -> (s.prefix() != null ? s.prefix() + " " : "") + core
          + (s.suffix() != null ? ": " + s.suffix() : "");
      default -> (s.prefix() != null ? s.prefix() + " " : "") + core + (s.suffix() != null ? " " + s.suffix() : "");
    };
    return "title".equals(s.letterCase()) ? titleCase(out) : out;
  }

  @Override
  public String crowd(Piece l) {
    return titleCase(core(l.keys(), "medium"));
  }

  @Override
  public String corrupt(SplittableRandom r, Piece l, String answer) {
    return answer; // generation golds carry no label noise
  }

  @Override
  public Map<String, String> item(Piece l, String label) {
    return switch (task) {
      case SCHOLARLY_TITLE -> Gen.fields("abstract", l.text(), "title", label);
      case NEWS_HEADLINE -> Gen.fields("text", l.text(), "title", label);
      default -> Gen.fields("text", label); // LaMP_7 history holds the user's own tweets only
    };
  }

  @Override
  public String input(Piece l) {
    return task.lampInput(l.text(), List.of());
  }

  @Override
  public Map<String, Object> describe(Style s) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("prefix", s.prefix());
    d.put("suffix", s.suffix());
    d.put("length", s.length());
    d.put("case", s.letterCase());
    return d;
  }

  static String titleCase(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean start = true;
    for (char c : s.toCharArray()) {
      sb.append(start ? Character.toUpperCase(c) : c);
      start = c == ' ';
    }
    return sb.toString();
  }
}
