package dev.oppu.bench;

import java.util.Arrays;
import java.util.Random;

/** Deterministic English-like text for benchmarks: Zipf-distributed words over a fixed syllable vocabulary. */
final class SyntheticText {
  private static final String[] SYLLABLES = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "an", "el", "is",
      "or", "um", "ba", "de", "fi", "go", "hu", "jo"};

  private final String[] vocab;
  private final double[] cumulative;
  private final Random rnd;

  SyntheticText(int vocabSize, long seed) {
    vocab = new String[vocabSize];
    for (int i = 0; i < vocabSize; i++) {
      StringBuilder w = new StringBuilder();
      int x = i;
      do {
        w.append(SYLLABLES[x % SYLLABLES.length]);
        x /= SYLLABLES.length;
      } while (x > 0);
      vocab[i] = w.toString();
    }
    cumulative = new double[vocabSize];
    double sum = 0;
    for (int i = 0; i < vocabSize; i++) {
      sum += 1.0 / (i + 1);
      cumulative[i] = sum;
    }
    for (int i = 0; i < vocabSize; i++) {
      cumulative[i] /= sum;
    }
    rnd = new Random(seed);
  }

  String word() {
    int i = Arrays.binarySearch(cumulative, rnd.nextDouble());
    return vocab[i < 0 ? Math.min(-i - 1, vocab.length - 1) : i];
  }

  /** Between {@code min} and {@code max} words, with some punctuation and capitals. */
  String text(int min, int max) {
    int n = min + rnd.nextInt(max - min + 1);
    StringBuilder sb = new StringBuilder(n * 7);
    for (int i = 0; i < n; i++) {
      String w = word();
      if (i > 0) {
        sb.append(rnd.nextInt(10) == 0 ? ", " : " ");
      }
      sb.append(rnd.nextInt(8) == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w);
    }
    return sb.append('.').toString();
  }

  int nextInt(int bound) {
    return rnd.nextInt(bound);
  }
}
