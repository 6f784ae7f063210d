package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import dev.oppu.model.Generator;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TextTokenizer;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * {@link BatchGenerator} on the project's Llama decoder: one task model per task (the base with that task's LoRA
 * merged in), the rows of a task decoded as one batch with a KV cache, each row with its own user adapter or none
 * (the model's per-row LoRA, S-LoRA / Punica style). Prompts are tokenized as the trainer tokenized its examples
 * (the tokenizer's own special tokens, e.g. BOS) and cut from the left to fit the context with the answer budget,
 * keeping the end where the question and the answer cue are. Constrained rows score {@code " " + candidate + EOS}
 * (the trainer's answer form) and answer with the most likely candidate.
 */
public final class ModelBatchGenerator implements BatchGenerator {

  /**
   * A task model and what adapters must have been trained on to be combined with it.
   *
   * @param baseFingerprint fingerprint of the base model before the task LoRA was merged
   * @param taskFingerprint fingerprint of the task LoRA merged into it
   */
  public record TaskModel(LlamaModel model, String baseFingerprint, String taskFingerprint) {}

  /** Generation settings beyond the per-row token budget. */
  public record Options(double temperature, int topK, double topP, long seed, int scoreBatch) {
    /**
     * (row, candidate) pairs scored per pass by default: 32 rows of LaMP_2M's 15 labels in one pass. A pass holds
     * the logits of every candidate token but the first ([rows, tree tokens, vocabulary]).
     */
    public static final int SCORE_BATCH = 512;

    /** Greedy decoding (the project's default; OPPU samples with T 0.1, top-k 10, top-p 0.9). */
    public static Options greedy() {
      return new Options(0, 0, 1, 0, SCORE_BATCH);
    }
  }

  /** Bound on the logits a scoring pass holds (floats; each row's tree has at most its candidates' tokens). */
  private static final long LOGITS_PER_PASS = 1L << 26;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelBatchGenerator.class);

  private final Function<Task, TaskModel> models;
  private final TextTokenizer tokenizer;
  private final Options options;
  private final Path adapterStore;

  /** Serves inline adapters only; holds, does not own, the models and the tokenizer (the caller closes them). */
  public ModelBatchGenerator(Map<Task, TaskModel> models, TextTokenizer tokenizer, Options options) {
    this(new EnumMap<>(models)::get, tokenizer, options, null);
  }

  /** Serves inline adapters only; {@code models} as below. */
  public ModelBatchGenerator(Function<Task, TaskModel> models, TextTokenizer tokenizer, Options options) {
    this(models, tokenizer, options, null);
  }

  /**
   * @param models       the task model of a task, or null when this server does not serve it (may load lazily)
   * @param adapterStore where adapters too large to inline are read from, and nowhere else; null: inline only
   */
  public ModelBatchGenerator(Function<Task, TaskModel> models, TextTokenizer tokenizer, Options options,
      Path adapterStore) {
    this.models = models;
    this.tokenizer = tokenizer;
    this.options = options;
    this.adapterStore = adapterStore;
  }

  @Override
  public Fingerprint fingerprint(Task task) {
    TaskModel m = models.apply(task);
    return m == null ? null : new Fingerprint(m.baseFingerprint(), m.taskFingerprint());
  }

  /** A user adapter on the task model it was trained for. */
  static final class ModelAdapter implements LoadedAdapter {
    final LoraAdapter lora;
    final Task task;
    private final long bytes;

    ModelAdapter(LoraAdapter lora, Task task) {
      this.lora = lora;
      this.task = task;
      this.bytes = lora.parameterCount() * Float.BYTES;
    }

    @Override
    public long sizeBytes() {
      return bytes;
    }

    @Override
    public void close() {
      lora.close();
    }
  }

  /** An adapter trained in this process (offline evaluation), for rows of {@code task}; closing it closes {@code lora}. */
  public static LoadedAdapter loaded(LoraAdapter lora, Task task) {
    return new ModelAdapter(lora, task);
  }

  @Override
  public LoadedAdapter load(AdapterVersion v) throws IOException {
    Task task = Task.of(v.getTask());
    TaskModel m = models.apply(task);
    if (m == null) {
      throw new IllegalStateException("no task model for " + task.id());
    }
    byte[] weights = weights(v, adapterStore);
    LoraAdapter lora = LoraAdapter.fromBytes(peftZip(v.getAdapterConfig(), weights), m.model().config(),
        m.model().manager());
    return new ModelAdapter(lora, task);
  }

  /** The verified weights of a published adapter: inline, or read from the store by path; SHA-256 checked. */
  static byte[] weights(AdapterVersion v, Path store) {
    return AdapterPayload.weights(v.getWeights(), v.getWeightsPath(), v.getWeightsSha256(), store);
  }

  static String sha256(byte[] bytes) {
    return AdapterPayload.sha256(bytes);
  }

  /** PEFT's two files in the in-memory form {@link LoraAdapter#fromBytes} reads. */
  private static byte[] peftZip(String config, byte[] weights) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(weights.length + config.length() + 512);
    try (ZipOutputStream zip = new ZipOutputStream(out)) {
      zip.setLevel(0);
      zip.putNextEntry(new ZipEntry(LoraAdapter.CONFIG_FILE));
      zip.write(config.getBytes(StandardCharsets.UTF_8));
      zip.closeEntry();
      zip.putNextEntry(new ZipEntry(LoraAdapter.WEIGHTS_FILE));
      zip.write(weights);
      zip.closeEntry();
    }
    return out.toByteArray();
  }

  @Override
  public List<String> generate(List<Row> rows) {
    String[] out = new String[rows.size()];
    Map<Task, List<Integer>> byTask = new LinkedHashMap<>();
    for (int i = 0; i < rows.size(); i++) {
      byTask.computeIfAbsent(rows.get(i).task(), t -> new ArrayList<>()).add(i);
    }
    for (Map.Entry<Task, List<Integer>> e : byTask.entrySet()) {
      TaskModel m = models.apply(e.getKey());
      if (m == null) {
        throw new IllegalStateException("no task model for " + e.getKey().id());
      }
      List<Integer> free = new ArrayList<>();
      List<Integer> constrained = new ArrayList<>();
      for (int i : e.getValue()) {
        (rows.get(i).candidates() == null ? free : constrained).add(i);
      }
      decode(m, rows, free, out);
      choose(m, rows, constrained, out);
    }
    return Arrays.asList(out);
  }

  /** Free generation of the rows {@code idx}, all in one batch (one budget: the largest of the rows). */
  private void decode(TaskModel m, List<Row> rows, List<Integer> idx, String[] out) {
    if (idx.isEmpty()) {
      return;
    }
    int maxNew = idx.stream().mapToInt(i -> rows.get(i).maxNewTokens()).max().orElse(1);
    List<int[]> prompts = new ArrayList<>();
    List<LoraAdapter> adapters = new ArrayList<>();
    for (int i : idx) {
      prompts.add(fit(tokenizer.encodeWithSpecialTokens(rows.get(i).prompt()), m, maxNew));
      adapters.add(lora(rows.get(i), m));
    }
    Generator.Options o = new Generator.Options(maxNew, options.temperature(), options.topK(), options.topP(),
        options.seed(), true);
    List<int[]> tokens = new Generator(m.model(), tokenizer.padId(), eosIds(m)).generate(prompts, adapters, o);
    for (int j = 0; j < idx.size(); j++) {
      int[] t = tokens.get(j);
      int budget = rows.get(idx.get(j)).maxNewTokens();
      out[idx.get(j)] = tokenizer.decode(t.length > budget ? Arrays.copyOf(t, budget) : t).strip();
    }
  }

  /**
   * Constrained rows: each row answers its most likely candidate. The rows are scored together, each prompt once with
   * all its candidates on top of its cached keys and values ({@link CausalLm#sharedPrefixLogProbs}), at most
   * {@code scoreBatch} (row, candidate) pairs per pass. A candidate list shared by rows (a task's labels) is
   * tokenized once per call.
   */
  private void choose(TaskModel m, List<Row> rows, List<Integer> idx, String[] out) {
    Map<List<String>, List<int[]>> tokenized = new java.util.HashMap<>();
    int from = 0;
    while (from < idx.size()) {
      List<int[]> prompts = new ArrayList<>();
      List<List<int[]>> cands = new ArrayList<>();
      List<LoraAdapter> adapters = new ArrayList<>();
      long t0 = System.nanoTime();
      int pairs = 0;
      long logits = 0;
      int to = from;
      for (; to < idx.size(); to++) {
        Row r = rows.get(idx.get(to));
        List<int[]> cs = tokenized.computeIfAbsent(r.candidates(), this::candidateTokens);
        long rowLogits = (long) cs.stream().mapToInt(c -> c.length).sum() * m.model().config().vocabSize();
        if (to > from && (pairs + cs.size() > Math.max(1, options.scoreBatch())
            || logits + rowLogits > LOGITS_PER_PASS)) {
          break;
        }
        int longest = cs.stream().mapToInt(c -> c.length).max().orElse(0);
        pairs += cs.size();
        logits += rowLogits;
        prompts.add(fit(tokenizer.encodeWithSpecialTokens(r.prompt()), m, longest));
        cands.add(cs);
        adapters.add(lora(r, m));
      }
      long t1 = System.nanoTime();
      float[][] scores = CausalLm.sharedPrefixLogProbs(m.model(), prompts, cands, adapters);
      if (LOG.isDebugEnabled()) {
        LOG.debug("scored {} rows, {} candidates: tokenization {} ms, scoring {} ms", prompts.size(), pairs,
            String.format("%.1f", (t1 - t0) / 1e6),
            String.format("%.1f", (System.nanoTime() - t1) / 1e6));
      }
      for (int j = 0; j < scores.length; j++) {
        int best = 0;
        for (int c = 1; c < scores[j].length; c++) {
          if (scores[j][c] > scores[j][best]) { // ties: the earlier candidate
            best = c;
          }
        }
        out[idx.get(from + j)] = rows.get(idx.get(from + j)).candidates().get(best);
      }
      from = to;
    }
  }

  /** A candidate as the trainer's answer form: {@code " " + candidate + EOS}. */
  private List<int[]> candidateTokens(List<String> candidates) {
    List<int[]> out = new ArrayList<>();
    for (String c : candidates) {
      out.add(withEos(tokenizer.encode(" " + c.strip())));
    }
    return out;
  }

  private int[] withEos(int[] ids) {
    int[] out = Arrays.copyOf(ids, ids.length + 1);
    out[ids.length] = tokenizer.eosId();
    return out;
  }

  /** The model's EOS ids and the tokenizer's (the trainer ends answers with the tokenizer's). */
  private int[] eosIds(TaskModel m) {
    int[] e = m.model().config().eosTokenIds();
    int tok = tokenizer.eosId();
    if (tok < 0 || Arrays.stream(e).anyMatch(x -> x == tok)) {
      return e;
    }
    int[] out = Arrays.copyOf(e, e.length + 1);
    out[e.length] = tok;
    return out;
  }

  private static LoraAdapter lora(Row r, TaskModel m) {
    if (r.adapter() == null) {
      return null;
    }
    ModelAdapter a = (ModelAdapter) r.adapter();
    if (a.task != r.task()) {
      throw new IllegalArgumentException("adapter of " + a.task.id() + " on a " + r.task().id() + " row");
    }
    return a.lora;
  }

  /** Cuts a prompt from the left (after a leading BOS) so that it and {@code reserve} new tokens fit the context. */
  private int[] fit(int[] ids, TaskModel m, int reserve) {
    int room = m.model().config().maxPositions() - reserve;
    if (room < 2) {
      throw new IllegalArgumentException("context of " + m.model().config().maxPositions() + " positions cannot hold "
          + reserve + " new tokens");
    }
    if (ids.length <= room) {
      return ids;
    }
    int bos = m.model().config().bosTokenId();
    boolean keepBos = ids.length > 0 && ids[0] == bos && bos >= 0;
    int[] out = new int[room];
    int head = keepBos ? 1 : 0;
    if (keepBos) {
      out[0] = bos;
    }
    System.arraycopy(ids, ids.length - (room - head), out, head, room - head);
    return out;
  }
}
