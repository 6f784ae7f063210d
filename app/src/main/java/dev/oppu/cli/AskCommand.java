package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code oppu ask}: one request to the running streams application, and its answer. */
@Command(name = "ask", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Sends one personalization request (keyed by user id) to the requests topic and prints the answer from the "
            + "responses topic, with the adapter version that produced it (needs 'oppu run streams' running).",
        "Exit code 0 with an answer, 1 with an error response (bad request, deadline), 2 on a bad command line, "
            + "3 when no answer came within --timeout-ms.",
        ""})
public final class AskCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--user", required = true, paramLabel = "U", description = "User id.")
  String user;

  @Option(names = "--task", required = true, paramLabel = "T",
      description = "LaMP task: LaMP_1, LaMP_2N, LaMP_2M, LaMP_3, LaMP_4, LaMP_5 or LaMP_7 (or its name).")
  String task;

  @Option(names = "--input", required = true, paramLabel = "TEXT",
      description = "The LaMP input, with its task's marker (e.g. LaMP_4: 'Generate a headline for the following "
          + "article: ...').")
  String input;

  @Option(names = "--mode", paramLabel = "M",
      description = "non-personalized, RAG, PAG, OPPU, OPPU+RAG or OPPU+PAG (default: the server's).")
  String mode;

  @Option(names = "--k", paramLabel = "K", description = "Retrieved items for RAG modes (default: the server's).")
  Integer k;

  @Option(names = "--deadline-ms", paramLabel = "MS",
      description = "The request's deadline, this long from now; past it the server answers with an error.")
  Long deadlineMs;

  @Option(names = "--timeout-ms", paramLabel = "MS", defaultValue = "120000",
      description = "How long to wait for the answer (default: ${DEFAULT-VALUE}).")
  long timeoutMs;

  @Option(names = "--request-id", paramLabel = "ID", description = "Request id (default: a random UUID).")
  String requestId;

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  /** The response received, for callers that run the command in-process. */
  private Response response;

  Response response() {
    return response;
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Task t = Task.of(task); // a clear error before anything is sent
    t.extract(input);
    ClientConfig client = kafka.clientConfig();
    Topics topics = Topics.from(client.raw());
    String id = requestId != null ? requestId : UUID.randomUUID().toString();
    Instant now = Instant.now();
    Request r = Request.newBuilder().setRequestId(id).setUserId(user).setTask(t.id()).setInput(input).setMode(mode)
        .setK(k).setRequestTime(now).setDeadline(deadlineMs == null ? null : now.plusMillis(deadlineMs)).build();

    try (KafkaConsumer<String, Response> consumer = new KafkaConsumer<>(client.consumer(null),
        Serdes.String().deserializer(), topics.responses.valueSerde().deserializer());
        KafkaProducer<String, Request> producer = new KafkaProducer<>(client.producer(),
            Serdes.String().serializer(), topics.requests.valueSerde().serializer())) {
      // Start reading the responses at their current end before asking, so the answer cannot be missed.
      List<TopicPartition> parts = consumer.partitionsFor(topics.responses.name(), Duration.ofSeconds(30)).stream()
          .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
      consumer.assign(parts);
      consumer.seekToEnd(parts);
      parts.forEach(consumer::position);
      producer.send(new ProducerRecord<>(topics.requests.name(), user, r)).get();

      long end = System.nanoTime() + Duration.ofMillis(timeoutMs).toNanos();
      while (System.nanoTime() < end) {
        for (ConsumerRecord<String, Response> rec : consumer.poll(Duration.ofMillis(200))) {
          if (rec.value() != null && id.equals(rec.value().getRequestId())) {
            response = rec.value();
            return print(response, out, err);
          }
        }
      }
    }
    err.printf("no answer to request %s within %d ms (is 'oppu run streams' running?)%n", id, timeoutMs);
    return 3;
  }

  private static int print(Response r, PrintWriter out, PrintWriter err) {
    if (r.getError() != null) {
      err.printf("error: %s (request %s)%n", r.getError(), r.getRequestId());
      err.flush();
      return 1;
    }
    out.println(r.getOutput());
    out.printf("adapter: %s | mode: %s%s | retrieved: %s | latency: %d ms | request: %s%n",
        r.getAdapterVersion() == null ? "none (task model)" : "v" + r.getAdapterVersion(), r.getMode(),
        r.getCold() ? " (cold start)" : "", r.getRetrievedItemIds(), r.getLatencyMs(), r.getRequestId());
    out.flush();
    return 0;
  }
}
