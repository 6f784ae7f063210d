package dev.oppu.cli;

import dev.oppu.broker.TopicAdmin;
import dev.oppu.serving.StreamsApp;
import dev.oppu.system.Acls;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AclBinding;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code oppu acl apply|show}: the least ACLs of each service's principal ({@link Acls}), applied to a broker that
 * runs an authorizer, or printed as the README's table.
 */
@Command(name = "acl", mixinStandardHelpOptions = true,
    description = "Access control: apply the least ACLs of each service's principal, or show them as a table.",
    subcommands = {AclCommand.Apply.class, AclCommand.Show.class, CommandLine.HelpCommand.class})
public final class AclCommand extends GroupCommand {

  /** Principals and names the grants are computed from. */
  static final class Target {
    @Option(names = "--streams-principal", defaultValue = "User:oppu-streams", paramLabel = "TYPE:NAME",
        description = "Principal of 'oppu run streams' (default: ${DEFAULT-VALUE}).")
    String streams;

    @Option(names = "--trainer-principal", defaultValue = "User:oppu-trainer", paramLabel = "TYPE:NAME",
        description = "Principal of 'oppu run trainer' (default: ${DEFAULT-VALUE}).")
    String trainer;

    @Option(names = "--behaviors-principal", defaultValue = "User:oppu-behaviors", paramLabel = "TYPE:NAME",
        description = "Principal of the producers of behaviors (default: ${DEFAULT-VALUE}).")
    String behaviors;

    @Option(names = "--requests-principal", defaultValue = "User:oppu-requests", paramLabel = "TYPE:NAME",
        description = "Principal of the producers of requests (default: ${DEFAULT-VALUE}).")
    String requests;

    @Option(names = "--responses-principal", defaultValue = "User:oppu-responses", paramLabel = "TYPE:NAME",
        description = "Principal of the consumers of responses (default: ${DEFAULT-VALUE}).")
    String responses;

    @Option(names = "--admin-principal", defaultValue = "User:oppu-admin", paramLabel = "TYPE:NAME",
        description = "Principal of the administrator, the only one who may write user commands (default: "
            + "${DEFAULT-VALUE}).")
    String admin;

    @Option(names = "--application-id", defaultValue = StreamsApp.APPLICATION_ID, paramLabel = "ID",
        description = "Application id of 'oppu run streams' (its internal topics and transactional ids start with "
            + "<ID>-; default: ${DEFAULT-VALUE}).")
    String applicationId;

    @Option(names = "--responses-group", defaultValue = Acls.Scope.DEFAULT_RESPONSES_GROUP, paramLabel = "GROUP",
        description = "Consumer group the responses consumer may use (default: ${DEFAULT-VALUE}).")
    String responsesGroup;

    Acls.Principals principals() {
      return Acls.Principals.defaults().with(Acls.Role.STREAMS, streams).with(Acls.Role.TRAINER, trainer)
          .with(Acls.Role.BEHAVIORS_PRODUCER, behaviors).with(Acls.Role.REQUESTS_PRODUCER, requests)
          .with(Acls.Role.RESPONSES_CONSUMER, responses).with(Acls.Role.ADMIN, admin);
    }

    List<Acls.Grant> grants(KafkaOptions kafka) {
      Acls.Scope s = Acls.Scope.of(kafka.topics(), applicationId);
      return Acls.grants(new Acls.Scope(s.topics(), s.applicationId(), s.trainerGroup(),
          s.trainerTransactionalPrefix(), responsesGroup));
    }
  }

  @Command(name = "apply", mixinStandardHelpOptions = true, sortOptions = false,
      description = {"Creates the ACLs of every principal (idempotent: an ACL that exists is left as it is) and prints "
          + "each one as a JSON line, then a summary line. Run it as a super user (or a principal with ALTER on the "
          + "cluster); the broker needs an authorizer (authorizer.class.name=org.apache.kafka.metadata.authorizer."
          + "StandardAuthorizer). Topic names come from the oppu.topic.<key> settings, as for every command.",
          "Exit code 0 when applied, 2 on bad input."})
  static final class Apply implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Target target = new Target();

    @Option(names = "--dry-run", description = "Print the ACLs without applying them.")
    boolean dryRun;

    @Option(names = "--create-topics", description = "Then create the missing oppu topics with this command's "
        + "login (the services run with --no-create-topics under ACLs).")
    boolean createTopics;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "" + TopicAdmin.DEFAULT_PARTITIONS,
        description = "Partitions of the topics --create-topics creates (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      List<AclBinding> bindings = Acls.bindings(target.grants(kafka), target.principals());
      if (!dryRun) {
        try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
          admin.createAcls(bindings).all().get(120, TimeUnit.SECONDS);
        }
      }
      for (AclBinding b : bindings) {
        out.println(JsonOut.object().put("principal", b.entry().principal()).put("host", b.entry().host())
            .put("permission", b.entry().permissionType().name()).put("operation", b.entry().operation().name())
            .put("resourceType", b.pattern().resourceType().name()).put("name", b.pattern().name())
            .put("pattern", b.pattern().patternType().name()));
      }
      JsonOut summary = JsonOut.object().put(dryRun ? "wouldApply" : "applied", bindings.size());
      if (createTopics && !dryRun) {
        TopicAdmin.Result r = TopicAdmin.ensureTopics(kafka.clientConfig().raw(), kafka.topics(), partitions);
        summary.put("topics", r.partitions());
      }
      out.println(summary);
      out.flush();
      return 0;
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, sortOptions = false,
      description = "Prints the ACLs as a Markdown table (the README's table is this command's output with the defaults).")
  static final class Show implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    Target target = new Target();

    @Mixin
    KafkaOptions kafka = new KafkaOptions();

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      out.print(Acls.markdown(target.grants(kafka), target.principals()));
      out.flush();
      return 0;
    }
  }
}
