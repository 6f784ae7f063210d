package dev.oppu.system;

import dev.oppu.schemas.Topics;
import dev.oppu.serving.StreamsApp;
import dev.oppu.trainer.service.TrainerService;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The ACL table of the system, as code: from the topic names and the streams application id, the least grants each
 * service's principal needs (all ALLOW, from any host; with KRaft's {@code StandardAuthorizer} and
 * {@code allow.everyone.if.no.acl.found=false} everything else is refused). {@code oppu acl apply} applies them; the
 * README's table is {@link #markdown} of the defaults (a test keeps the two equal).
 *
 * <p>Kafka implies DESCRIBE from READ, WRITE, DELETE and ALTER, so DESCRIBE is listed only where nothing implies it.
 * An idempotent producer needs only WRITE on its topics (KIP-679), no IDEMPOTENT_WRITE on the cluster.
 */
public final class Acls {
  private Acls() {}

  /** The services (and people) that talk to Kafka, each with its own principal. */
  public enum Role {
    STREAMS("streams application (`oppu run streams`: ingestion + serving)"),
    TRAINER("trainer (`oppu run trainer`)"),
    BEHAVIORS_PRODUCER("producer of behaviors (`oppu publish`)"),
    REQUESTS_PRODUCER("producer of requests"),
    RESPONSES_CONSUMER("consumer of responses"),
    ADMIN("administrator (topics, ACLs, `oppu user delete/export`)");

    public final String description;

    Role(String description) {
      this.description = description;
    }
  }

  /** Principals ({@code User:name}) per role; defaults {@code User:oppu-streams}, ... */
  public record Principals(Map<Role, String> byRole) {
    public Principals {
      byRole = Map.copyOf(byRole);
      for (Role r : Role.values()) {
        String p = Objects.requireNonNull(byRole.get(r), "no principal for " + r);
        if (!p.contains(":")) {
          throw new IllegalArgumentException("a principal is TYPE:NAME (e.g. User:alice), got " + p);
        }
      }
    }

    public static Principals defaults() {
      Map<Role, String> m = new EnumMap<>(Role.class);
      m.put(Role.STREAMS, "User:oppu-streams");
      m.put(Role.TRAINER, "User:oppu-trainer");
      m.put(Role.BEHAVIORS_PRODUCER, "User:oppu-behaviors");
      m.put(Role.REQUESTS_PRODUCER, "User:oppu-requests");
      m.put(Role.RESPONSES_CONSUMER, "User:oppu-responses");
      m.put(Role.ADMIN, "User:oppu-admin");
      return new Principals(m);
    }

    public Principals with(Role role, String principal) {
      Map<Role, String> m = new EnumMap<>(byRole);
      m.put(role, principal);
      return new Principals(m);
    }

    public String of(Role role) {
      return byRole.get(role);
    }
  }

  /** One grant: {@code role} may do {@code operation} on the resource. */
  public record Grant(Role role, ResourceType type, String name, PatternType pattern, AclOperation operation) {}

  /** What the grants are computed from. */
  public record Scope(Topics topics, String applicationId, String trainerGroup, String trainerTransactionalPrefix,
      String responsesGroup) {
    public static final String DEFAULT_RESPONSES_GROUP = "oppu-responses";

    public static Scope defaults() {
      return of(Topics.defaults(), StreamsApp.APPLICATION_ID);
    }

    public static Scope of(Topics topics, String applicationId) {
      return new Scope(topics, applicationId, TrainerService.GROUP_ID, TrainerService.GROUP_ID + "-",
          DEFAULT_RESPONSES_GROUP);
    }
  }

  /** The least grants of every role, in table order. */
  public static List<Grant> grants(Scope s) {
    Topics t = s.topics();
    List<Grant> g = new ArrayList<>();
    String internal = s.applicationId() + "-";
    // Streams application: its inputs, outputs, internal topics (changelogs, the adapters repartition), group and
    // exactly-once transactional ids (<application id>-<process id>-<thread>).
    Role r = Role.STREAMS;
    for (Topics.Topic<?, ?> in : List.of(t.behaviors, t.requests, t.userCommands, t.trainResults)) {
      topic(g, r, in.name(), AclOperation.READ);
    }
    topic(g, r, t.adapters.name(), AclOperation.READ, AclOperation.WRITE); // reads adapters; tombstones on delete
    topic(g, r, t.responses.name(), AclOperation.WRITE);
    topic(g, r, t.trainTriggers.name(), AclOperation.WRITE);
    // dead letters: the refused-record handler reads the topic's max.message.bytes
    topic(g, r, t.deadLetters.name(), AclOperation.WRITE, AclOperation.DESCRIBE_CONFIGS);
    for (AclOperation op : List.of(AclOperation.CREATE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE,
        AclOperation.DESCRIBE_CONFIGS)) {
      g.add(new Grant(r, ResourceType.TOPIC, internal, PatternType.PREFIXED, op));
    }
    g.add(new Grant(r, ResourceType.GROUP, s.applicationId(), PatternType.LITERAL, AclOperation.READ));
    g.add(new Grant(r, ResourceType.TRANSACTIONAL_ID, internal, PatternType.PREFIXED, AclOperation.WRITE));

    // Trainer: triggers in; adapters, results and dead letters out, in transactions; reads the adapters it updates.
    r = Role.TRAINER;
    topic(g, r, t.trainTriggers.name(), AclOperation.READ);
    topic(g, r, t.adapters.name(), AclOperation.READ, AclOperation.WRITE);
    topic(g, r, t.trainResults.name(), AclOperation.WRITE);
    topic(g, r, t.deadLetters.name(), AclOperation.WRITE);
    g.add(new Grant(r, ResourceType.GROUP, s.trainerGroup(), PatternType.LITERAL, AclOperation.READ));
    g.add(new Grant(r, ResourceType.TRANSACTIONAL_ID, s.trainerTransactionalPrefix(), PatternType.PREFIXED,
        AclOperation.WRITE));

    topic(g, Role.BEHAVIORS_PRODUCER, t.behaviors.name(), AclOperation.WRITE);
    topic(g, Role.REQUESTS_PRODUCER, t.requests.name(), AclOperation.WRITE);

    r = Role.RESPONSES_CONSUMER;
    topic(g, r, t.responses.name(), AclOperation.READ);
    g.add(new Grant(r, ResourceType.GROUP, s.responsesGroup(), PatternType.LITERAL, AclOperation.READ));

    // Administrator: creates the topics, writes user commands (the only one who may), reads what user export/delete
    // read (the store changelogs, the adapters topic), manages ACLs.
    r = Role.ADMIN;
    for (Topics.Topic<?, ?> each : t.all()) {
      if (each == t.userCommands) {
        topic(g, r, each.name(), AclOperation.CREATE, AclOperation.WRITE);
      } else if (each == t.adapters) {
        topic(g, r, each.name(), AclOperation.CREATE, AclOperation.READ);
      } else {
        topic(g, r, each.name(), AclOperation.CREATE, AclOperation.DESCRIBE);
      }
    }
    g.add(new Grant(r, ResourceType.TOPIC, internal, PatternType.PREFIXED, AclOperation.READ));
    g.add(new Grant(r, ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL, AclOperation.ALTER));
    return List.copyOf(g);
  }

  private static void topic(List<Grant> g, Role role, String name, AclOperation... ops) {
    for (AclOperation op : ops) {
      g.add(new Grant(role, ResourceType.TOPIC, name, PatternType.LITERAL, op));
    }
  }

  /** The grants as Kafka ACL bindings (ALLOW, host {@code *}) for the given principals. */
  public static List<AclBinding> bindings(List<Grant> grants, Principals principals) {
    return grants.stream().map(g -> new AclBinding(new ResourcePattern(g.type(), g.name(), g.pattern()),
        new AccessControlEntry(principals.of(g.role()), "*", g.operation(), AclPermissionType.ALLOW))).toList();
  }

  /** The roles whose grants are written to the README: one row per (role, resource), operations joined. */
  public static String markdown(List<Grant> grants, Principals principals) {
    Map<List<Object>, List<String>> rows = new LinkedHashMap<>();
    for (Grant g : grants) {
      rows.computeIfAbsent(List.of(g.role(), g.type(), g.pattern(), g.name()), k -> new ArrayList<>())
          .add(g.operation().name());
    }
    StringBuilder sb = new StringBuilder();
    sb.append("| Principal (default) | Role | Resource | Name | Pattern | Operations |\n");
    sb.append("|---|---|---|---|---|---|\n");
    Role last = null;
    for (Map.Entry<List<Object>, List<String>> e : rows.entrySet()) {
      Role role = (Role) e.getKey().get(0);
      boolean first = role != last;
      last = role;
      sb.append("| ").append(first ? "`" + principals.of(role) + "`" : "")
          .append(" | ").append(first ? role.description : "")
          .append(" | ").append(e.getKey().get(1))
          .append(" | `").append(e.getKey().get(3)).append('`')
          .append(" | ").append(e.getKey().get(2))
          .append(" | ").append(String.join(", ", e.getValue()))
          .append(" |\n");
    }
    return sb.toString();
  }

  /** Topics and groups a role may read (for checks and the threat model). */
  public static Set<String> readable(List<Grant> grants, Role role) {
    return grants.stream().filter(g -> g.role() == role && g.type() == ResourceType.TOPIC
        && g.operation() == AclOperation.READ).map(Grant::name).collect(Collectors.toCollection(
        java.util.LinkedHashSet::new));
  }
}
