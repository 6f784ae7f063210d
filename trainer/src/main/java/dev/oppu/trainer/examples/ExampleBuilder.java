package dev.oppu.trainer.examples;

import dev.oppu.lamp.Task;
import dev.oppu.streams.Bm25Scorer;
import dev.oppu.streams.IngestConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * Builds the per-user training examples of SPEC section 2: one per history item, the task prompt filled from the
 * item and its label as the answer; for RAG the k items BM25 finds among the items BEFORE it (statistics of those
 * items alone, so nothing of item i or later leaks in); for PAG the profile, and the k retrieved items too when k > 0
 * (OPPU+PAG is OPPU's {@code --k 1 --add_profile}; k = 0 gives the profile alone, the PAG form of task adaptation).
 * Texts are cut to a token budget by shortening input fields (the answer is kept): retrieved items' input fields to
 * {@code retrievedWords} words first, then the item's own input field to what fits; retrieved items are dropped,
 * least relevant first, only if that is not enough.
 */
public final class ExampleBuilder {

  /**
   * How examples are built. {@code maxTokens} bounds each whole sequence (BOS + prompt + answer + EOS); {@code k}
   * items are retrieved for RAG and PAG (ignored for PLAIN).
   */
  public record Options(Variant variant, int k, int maxTokens, int retrievedWords) {
    public static Options defaults(Variant variant) {
      return new Options(variant, variant == Variant.PLAIN ? 0 : 1, 256, 48);
    }
  }

  /** Retrieval as serving's: the streams' default analyzer and query cut, Lucene-equal scores ({@link Bm25Scorer}). */
  private static final Bm25Scorer BM25 = new Bm25Scorer(IngestConfig.defaults().newAnalyzer(),
      IngestConfig.defaults().maxQueryTerms());

  private final Task task;
  private final Options options;
  private final TokenEncoder encoder;

  public ExampleBuilder(Task task, Options options, TokenEncoder encoder) {
    this.task = task;
    this.options = options;
    this.encoder = encoder;
  }

  /** Examples for {@code items} (oldest first), one per item with index >= {@code fromIndex}. */
  public List<TokenizedExample> build(List<Map<String, String>> items, String profile, int fromIndex) {
    return build(items, profile, i -> i >= fromIndex);
  }

  /** RAG examples with the profile prepended too (OPPU's {@code --k} together with {@code --add_profile}). */
  public List<TokenizedExample> buildWithProfile(List<Map<String, String>> items, String profile) {
    return build(items, profile, i -> true, true);
  }

  /** Examples for the items whose index {@code include} accepts, in history order. */
  public List<TokenizedExample> build(List<Map<String, String>> items, String profile, IntPredicate include) {
    return build(items, profile, include, options.variant() == Variant.PAG);
  }

  private List<TokenizedExample> build(List<Map<String, String>> items, String profile, IntPredicate include,
      boolean withProfile) {
    Bm25Scorer.Index bm25 = BM25.newIndex();
    boolean rag = options.variant() != Variant.PLAIN && options.k() > 0;
    List<TokenizedExample> out = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      Map<String, String> item = items.get(i);
      if (include.test(i)) {
        List<Map<String, String>> retrieved = new ArrayList<>();
        if (rag) {
          for (int d : bm25.search(item.getOrDefault(task.inputField(), ""), options.k())) {
            retrieved.add(task.cutRetrieved(items.get(d), options.retrievedWords()));
          }
        }
        out.add(example(item, retrieved, withProfile ? profile : null, i));
      }
      if (rag) {
        bm25.add(item.getOrDefault(task.inputField(), ""));
      }
    }
    return out;
  }

  /** The retrieval query and its hits for history item {@code i}: visible for testing. */
  public static int[] retrieveBefore(Task task, List<Map<String, String>> items, int i, int k) {
    Bm25Scorer.Index bm25 = BM25.newIndex();
    for (int d = 0; d < i; d++) {
      bm25.add(items.get(d).getOrDefault(task.inputField(), ""));
    }
    return bm25.search(items.get(i).getOrDefault(task.inputField(), ""), k);
  }

  TokenizedExample example(Map<String, String> item, List<Map<String, String>> retrieved, String profile, int index) {
    Task.Example ex = task.trainingExample(item);
    int[] answer = encoder.encode(" " + ex.answer().strip());
    int fixed = (encoder.bosId() >= 0 ? 1 : 0) + 1; // BOS, EOS
    int maxAnswer = Math.max(1, options.maxTokens() / 2);
    if (answer.length > maxAnswer) {
      answer = Arrays.copyOf(answer, maxAnswer);
    }
    int promptBudget = options.maxTokens() - fixed - answer.length;
    List<Map<String, String>> kept = new ArrayList<>(retrieved);
    int[] prompt;
    while (true) {
      prompt = fitPrompt(item, kept, profile, promptBudget);
      if (prompt.length <= promptBudget || kept.isEmpty()) {
        break;
      }
      kept.remove(kept.size() - 1);
    }
    if (prompt.length > promptBudget) {
      // the fixed prompt text alone overflows: keep its end, where the question and the answer cue are
      prompt = Arrays.copyOfRange(prompt, prompt.length - promptBudget, prompt.length);
    }
    int bos = encoder.bosId() >= 0 ? 1 : 0;
    int[] tokens = new int[bos + prompt.length + answer.length + 1];
    if (bos == 1) {
      tokens[0] = encoder.bosId();
    }
    System.arraycopy(prompt, 0, tokens, bos, prompt.length);
    System.arraycopy(answer, 0, tokens, bos + prompt.length, answer.length);
    tokens[tokens.length - 1] = encoder.eosId();
    return new TokenizedExample(tokens, bos + prompt.length, index);
  }

  /** The prompt tokens with the item's input field cut (by words, binary search) to fit the budget if possible. */
  private int[] fitPrompt(Map<String, String> item, List<Map<String, String>> retrieved, String profile, int budget) {
    int[] full = encoder.encode(promptText(item, retrieved, profile));
    String field = item.get(task.inputField());
    if (full.length <= budget || field == null || task == Task.TWEET_PARAPHRASE) {
      return full;
    }
    String[] words = field.strip().split("\\s+");
    int lo = 0;
    int hi = words.length;
    int[] best = encoder.encode(promptText(withField(item, ""), retrieved, profile));
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      int[] ids = encoder.encode(promptText(withField(item, String.join(" ", Arrays.copyOf(words, mid))), retrieved, profile));
      if (ids.length <= budget) {
        lo = mid;
        best = ids;
      } else {
        hi = mid - 1;
      }
    }
    return best;
  }

  private String promptText(Map<String, String> item, List<Map<String, String>> retrieved, String profile) {
    return task.buildInput(profile, retrieved, task.trainingExample(item).prompt());
  }

  private Map<String, String> withField(Map<String, String> item, String value) {
    Map<String, String> copy = new HashMap<>(item);
    copy.put(task.inputField(), value);
    return copy;
  }
}
