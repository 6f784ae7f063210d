package dev.oppu.evaluation.demo;

import dev.oppu.broker.ClientConfig;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.UserData;
import dev.oppu.schemas.Topics;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The OPPU services a demo runs against: the streams application (ingestion + serving) and the trainer, started
 * connected to the demo's cluster and topics. The demo only talks to them through Kafka.
 */
public interface DemoSystem extends AutoCloseable {

  /** The model that serves and trains, as the report names it (name, size, where it came from). */
  String modelDescription();

  /** Settings that shaped the run, one line each, for the report. */
  List<String> setup();

  /**
   * Restarts the streams application with other settings (e.g. fewer adapter variants to train), keeping its state.
   *
   * @return false when this system cannot be reconfigured (then it keeps its settings)
   */
  default boolean restartStreams(Properties settings) throws Exception {
    return false;
  }

  /** Starts the services. */
  interface Launcher {
    /**
     * @param settings {@code oppu.*} settings for the services (trigger policy, variants to train...)
     * @param trainUsers per task, the non-evaluated users: their text trains the base model and the task adapter
     * @param work a folder for the services' state and caches
     */
    DemoSystem start(ClientConfig client, Topics topics, Properties settings, Map<Task, List<UserData>> trainUsers,
        Path work, Progress progress) throws Exception;
  }
}
