package dev.oppu.system;

import dev.oppu.model.TaskModels;
import dev.oppu.trainer.service.TrainerService;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The trainer service of the system and its own copy of the task models; made by {@link OppuSystem#trainer()}. Run it
 * on the calling thread ({@link #run()}, as {@code oppu run trainer} does) or on a thread of its own
 * ({@link #startThread()}, as the in-process system does). Closing it stops the service, waits for its run to end,
 * then closes the models (never under a running training).
 */
public final class TrainerPart implements AutoCloseable {
  private final TaskModels models;
  private final TrainerService service;
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private Thread thread;
  private boolean closed;

  TrainerPart(TaskModels models, TrainerService service) {
    this.models = models;
    this.service = service;
  }

  public TaskModels models() {
    return models;
  }

  public TrainerService service() {
    return service;
  }

  public TrainerService.Stats stats() {
    return service.stats();
  }

  /** Runs the service on this thread until it is closed. */
  public void run() throws InterruptedException {
    service.run();
  }

  /** Runs the service on a daemon thread {@code oppu-trainer}; an error that ends it is kept ({@link #failure()}). */
  public TrainerPart startThread() {
    thread = new Thread(() -> {
      try {
        // PyTorch's grad mode is per thread and on by default in a new one; DJL turns it off only on the thread that
        // initialized the engine. Left on, the optimizer's in-place updates of LoRA leaves fail.
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        service.run();
      } catch (Throwable t) {
        failure.set(t);
      }
    }, "oppu-trainer");
    thread.setDaemon(true);
    thread.start();
    return this;
  }

  /** The error that ended the service's thread, or null. */
  public Throwable failure() {
    return failure.get();
  }

  /** Stops the service and waits for its run to end (the models stay open). */
  public synchronized void stop() throws InterruptedException {
    if (closed) {
      return;
    }
    closed = true;
    service.close();
    if (thread != null) {
      thread.join(30_000);
    }
  }

  @Override
  public void close() throws InterruptedException {
    stop();
    models.close();
  }
}
