package dev.oppu.trainer.pretrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style) and writes it as a Hugging Face {@code tokenizer.json}, the same
 * structure as the fixtures' tokenizer, so DJL's HuggingFace tokenizers (and transformers) load it. No weights or
 * vocabularies can be downloaded here, so the default model's tokenizer is made from the project's own corpus.
 *
 * <p>Deterministic: the most frequent pair wins, ties broken by the lexicographically smallest (left, right) pair.
 */
public final class BpeTokenizerTrainer {
  public static final List<String> SPECIAL_TOKENS = List.of("<pad>", "<s>", "</s>");

  /** GPT-2's pre-tokenization: contractions, letters, digits, punctuation runs, whitespace. */
  static final Pattern PRE_TOKENIZE = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

  /** GPT-2's reversible map from bytes to printable characters (space becomes 'Ġ'). */
  static final char[] BYTE_TO_CHAR = byteToChar();

  private final int vocabSize;
  private final Map<String, Long> wordCounts = new HashMap<>();

  public BpeTokenizerTrainer(int vocabSize) {
    if (vocabSize < SPECIAL_TOKENS.size() + 256) {
      throw new IllegalArgumentException("vocab size must be at least " + (SPECIAL_TOKENS.size() + 256));
    }
    this.vocabSize = vocabSize;
  }

  /** Adds a text to the corpus (only its pre-tokenized word counts are kept). */
  public void add(String text) {
    Matcher m = PRE_TOKENIZE.matcher(text);
    while (m.find()) {
      wordCounts.merge(toByteChars(m.group()), 1L, Long::sum);
    }
  }

  /** The learned vocabulary (token -> id) and merges, in rank order. */
  public record Bpe(Map<String, Integer> vocab, List<String[]> merges) {}

  public Bpe train() {
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (String s : SPECIAL_TOKENS) {
      vocab.put(s, vocab.size());
    }
    List<String> symbols = new ArrayList<>();
    TreeMap<Character, Boolean> alphabet = new TreeMap<>();
    for (char c : BYTE_TO_CHAR) {
      alphabet.put(c, true);
    }
    for (char c : alphabet.keySet()) {
      vocab.put(String.valueOf(c), vocab.size());
    }
    symbols.addAll(vocab.keySet());
    Map<String, Integer> symbolId = new HashMap<>(vocab);

    // Words as symbol-id sequences, with their counts; deterministic order.
    List<String> words = new ArrayList<>(new TreeMap<>(wordCounts).keySet());
    int[][] seqs = new int[words.size()][];
    long[] counts = new long[words.size()];
    for (int w = 0; w < words.size(); w++) {
      String word = words.get(w);
      seqs[w] = new int[word.length()];
      for (int i = 0; i < word.length(); i++) {
        seqs[w][i] = symbolId.get(String.valueOf(word.charAt(i)));
      }
      counts[w] = wordCounts.get(word);
    }
    Map<Long, Long> pairCounts = new HashMap<>();
    Map<Long, Set<Integer>> pairWords = new HashMap<>();
    for (int w = 0; w < seqs.length; w++) {
      addPairs(seqs[w], counts[w], w, pairCounts, pairWords);
    }

    List<String[]> merges = new ArrayList<>();
    while (vocab.size() < vocabSize && !pairCounts.isEmpty()) {
      long best = -1;
      long bestCount = 0;
      for (Map.Entry<Long, Long> e : pairCounts.entrySet()) {
        long c = e.getValue();
        if (c > bestCount || (c == bestCount && c > 0 && comparePairs(e.getKey(), best, symbols) < 0)) {
          best = e.getKey();
          bestCount = c;
        }
      }
      if (bestCount <= 1) {
        break; // a pair seen once generalizes to nothing
      }
      int left = (int) (best >>> 32);
      int right = (int) best;
      String merged = symbols.get(left) + symbols.get(right);
      merges.add(new String[] {symbols.get(left), symbols.get(right)});
      int newId = symbols.size();
      symbols.add(merged);
      vocab.put(merged, vocab.size());

      for (int w : new ArrayList<>(pairWords.getOrDefault(best, Set.of()))) {
        int[] old = seqs[w];
        removePairs(old, counts[w], w, pairCounts, pairWords);
        seqs[w] = applyMerge(old, left, right, newId);
        addPairs(seqs[w], counts[w], w, pairCounts, pairWords);
      }
      pairCounts.remove(best);
      pairWords.remove(best);
    }
    return new Bpe(vocab, merges);
  }

  /** Trains and writes {@code tokenizer.json} into {@code dir}. */
  public Bpe trainAndSave(Path dir) throws IOException {
    Bpe bpe = train();
    write(bpe, dir.resolve("tokenizer.json"));
    return bpe;
  }

  /** Writes the same JSON structure as Hugging Face tokenizers' byte-level BPE. */
  public static void write(Bpe bpe, Path file) throws IOException {
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (String s : SPECIAL_TOKENS) {
      ObjectNode t = added.addObject();
      t.put("id", bpe.vocab().get(s));
      t.put("content", s);
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "ByteLevel");
    pre.put("add_prefix_space", false);
    pre.put("trim_offsets", true);
    pre.put("use_regex", true);
    root.putNull("post_processor");
    ObjectNode dec = root.putObject("decoder");
    dec.put("type", "ByteLevel");
    dec.put("add_prefix_space", true);
    dec.put("trim_offsets", true);
    dec.put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    bpe.vocab().forEach(vocab::put);
    ArrayNode merges = model.putArray("merges");
    for (String[] m : bpe.merges()) {
      merges.addArray().add(m[0]).add(m[1]);
    }
    Files.createDirectories(file.getParent());
    om.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
  }

  static String toByteChars(String piece) {
    byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
    }
    return new String(out);
  }

  private static int comparePairs(long a, long b, List<String> symbols) {
    if (b < 0) {
      return -1;
    }
    int c = symbols.get((int) (a >>> 32)).compareTo(symbols.get((int) (b >>> 32)));
    return c != 0 ? c : symbols.get((int) a).compareTo(symbols.get((int) b));
  }

  private static long pair(int left, int right) {
    return ((long) left << 32) | (right & 0xffffffffL);
  }

  private static void addPairs(int[] seq, long count, int w, Map<Long, Long> pc, Map<Long, Set<Integer>> pw) {
    for (int i = 0; i + 1 < seq.length; i++) {
      long p = pair(seq[i], seq[i + 1]);
      pc.merge(p, count, Long::sum);
      pw.computeIfAbsent(p, k -> new HashSet<>()).add(w);
    }
  }

  private static void removePairs(int[] seq, long count, int w, Map<Long, Long> pc, Map<Long, Set<Integer>> pw) {
    for (int i = 0; i + 1 < seq.length; i++) {
      long p = pair(seq[i], seq[i + 1]);
      Long c = pc.get(p);
      if (c != null) {
        if (c - count <= 0) {
          pc.remove(p);
        } else {
          pc.put(p, c - count);
        }
      }
      Set<Integer> ws = pw.get(p);
      if (ws != null) {
        ws.remove(w);
      }
    }
  }

  private static int[] applyMerge(int[] seq, int left, int right, int merged) {
    int[] out = new int[seq.length];
    int n = 0;
    for (int i = 0; i < seq.length; i++) {
      if (i + 1 < seq.length && seq[i] == left && seq[i + 1] == right) {
        out[n++] = merged;
        i++;
      } else {
        out[n++] = seq[i];
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  private static char[] byteToChar() {
    char[] map = new char[256];
    boolean[] printable = new boolean[256];
    for (int b = '!'; b <= '~'; b++) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
    int next = 0;
    for (int b = 0; b < 256; b++) {
      map[b] = printable[b] ? (char) b : (char) (256 + next++);
    }
    return map;
  }
}
