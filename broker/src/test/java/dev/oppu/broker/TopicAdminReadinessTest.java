package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeTopicsResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.internals.KafkaFutureImpl;
import org.junit.jupiter.api.Test;

/** {@link TopicAdmin#awaitWritable} against a scripted admin client: retries, the timeout and its message. */
class TopicAdminReadinessTest {

  private static final Node NODE = new Node(1, "localhost", 9092);

  /** An admin that describes {@code topic} with {@code partitions} partitions and answers ListOffsets with {@code answer}. */
  private static Admin scripted(String topic, int partitions, Function<TopicPartition, Throwable> answer) {
    return (Admin) Proxy.newProxyInstance(Admin.class.getClassLoader(), new Class<?>[] {Admin.class},
        (proxy, method, args) -> switch (method.getName()) {
          case "describeTopics" -> {
            List<TopicPartitionInfo> infos = new java.util.ArrayList<>();
            for (int p = 0; p < partitions; p++) {
              infos.add(new TopicPartitionInfo(p, NODE, List.of(NODE), List.of(NODE)));
            }
            yield new DescribeTopicsResult(null,
                Map.of(topic, KafkaFuture.completedFuture(new TopicDescription(topic, false, infos)))) {};
          }
          case "listOffsets" -> {
            @SuppressWarnings("unchecked")
            Map<TopicPartition, OffsetSpec> asked = (Map<TopicPartition, OffsetSpec>) args[0];
            Map<TopicPartition, KafkaFuture<ListOffsetsResult.ListOffsetsResultInfo>> out = new HashMap<>();
            for (TopicPartition tp : asked.keySet()) {
              KafkaFutureImpl<ListOffsetsResult.ListOffsetsResultInfo> f = new KafkaFutureImpl<>();
              Throwable error = answer.apply(tp);
              if (error == null) {
                f.complete(new ListOffsetsResult.ListOffsetsResultInfo(0, -1, Optional.empty()));
              } else {
                f.completeExceptionally(error);
              }
              out.put(tp, f);
            }
            yield new ListOffsetsResult(out);
          }
          case "close" -> null;
          default -> throw new UnsupportedOperationException(method.getName());
        });
  }

  @Test
  void retriesUntilEveryPartitionIsServedByItsLeader() {
    AtomicInteger asked = new AtomicInteger();
    // partition 2 is refused three times (the leader not made yet), then answers
    Admin admin = scripted("t", 3, tp -> tp.partition() == 2 && asked.incrementAndGet() <= 3
        ? new NotLeaderOrFollowerException("not yet") : null);
    assertEquals(Map.of("t", 3), TopicAdmin.awaitWritable(admin, List.of("t"), Duration.ofSeconds(10)));
    assertEquals(4, asked.get());
  }

  @Test
  void namesTheTopicAndPartitionThatNeverAnswers() {
    Admin admin = scripted("behaviors", 4, tp -> tp.partition() == 3 ? new NotLeaderOrFollowerException("no") : null);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> TopicAdmin.awaitWritable(admin, List.of("behaviors"), Duration.ofMillis(400)));
    assertTrue(e.getMessage().startsWith("partition 3 of topic behaviors did not answer"), e.getMessage());
    assertTrue(e.getMessage().contains("NotLeaderOrFollowerException"), e.getMessage());
  }

  @Test
  void doesNotRetryWhatWillNotChange() {
    AtomicInteger asked = new AtomicInteger();
    Admin admin = scripted("t", 1, tp -> {
      asked.incrementAndGet();
      return new TopicAuthorizationException("denied");
    });
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> TopicAdmin.awaitWritable(admin, List.of("t"), Duration.ofSeconds(10)));
    assertTrue(e.getMessage().contains("partition 0 of topic t"), e.getMessage());
    assertEquals(1, asked.get());
  }
}
